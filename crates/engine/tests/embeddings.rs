#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Embeddings match sentence-transformers' own vectors (fixtures computed once with the
//! Python package: scripts/reference/embeddings.py).

mod common;

use switchyard_engine::embed::BertEmbedder;

fn reference() -> Vec<(String, Vec<f32>)> {
    let raw: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/minilm_reference.json")).unwrap();
    raw["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let v = c["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            (c["text"].as_str().unwrap().to_owned(), v)
        })
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn batch_matches_sentence_transformers_to_1e_4() {
    let model = BertEmbedder::load(&common::model_path("all-minilm-l6-v2")).unwrap();
    assert_eq!(model.dimensions(), 384);
    let cases = reference();
    let texts: Vec<String> = cases.iter().map(|(t, _)| t.clone()).collect();
    let out = model.embed(&texts).unwrap();
    for ((text, expected), got) in cases.iter().zip(&out.vectors) {
        let d = max_diff(expected, got);
        assert!(d < 1e-4, "{text:?}: max difference {d}");
        let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "not normalised: {norm}");
    }
    assert!(out.tokens > cases.len() as u64 * 2);
}

#[test]
fn padding_does_not_change_a_vector() {
    let model = BertEmbedder::load(&common::model_path("all-minilm-l6-v2")).unwrap();
    let cases = reference();
    let alone = model.embed(&[cases[2].0.clone()]).unwrap();
    let together = model
        .embed(&[cases[4].0.clone(), cases[2].0.clone()])
        .unwrap();
    assert!(max_diff(&alone.vectors[0], &together.vectors[1]) < 1e-5);
}

#[test]
fn missing_model_folder_is_a_load_error() {
    let err = BertEmbedder::load(std::path::Path::new("/nonexistent/model")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/model"), "{err}");
}
