//! Sampling settings and output constraints → a llama.cpp sampler chain.

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::logit_bias::LlamaLogitBias;
use llama_cpp_2::token::LlamaToken;

use crate::chat::{Constraint, Sampling};
use crate::EngineError;

/// Tokens looked back over for repetition, frequency and presence penalties.
const PENALTY_WINDOW: i32 = 64;

/// `None` when nothing but the most likely token is wanted (temperature 0, no penalties,
/// biases or constraint): the caller takes the argmax itself.
pub(super) fn build(
    model: &LlamaModel,
    sampling: &Sampling,
    constraint: Option<&Constraint>,
) -> Result<Option<LlamaSampler>, EngineError> {
    let mut chain = Vec::new();
    let n_vocab = model.n_vocab();
    if !sampling.logit_bias.is_empty() {
        let mut biases = Vec::with_capacity(sampling.logit_bias.len());
        for &(token, bias) in &sampling.logit_bias {
            if token < 0 || token >= n_vocab {
                return Err(EngineError::InvalidRequest(format!(
                    "logit_bias names token {token}, outside this model's vocabulary of {n_vocab} tokens"
                )));
            }
            biases.push(LlamaLogitBias::new(LlamaToken::new(token), bias));
        }
        chain.push(LlamaSampler::logit_bias(n_vocab, &biases));
    }
    if sampling.repeat_penalty != 1.0
        || sampling.frequency_penalty != 0.0
        || sampling.presence_penalty != 0.0
    {
        chain.push(LlamaSampler::penalties(
            n_vocab,
            PENALTY_WINDOW,
            sampling.repeat_penalty,
            sampling.frequency_penalty,
            sampling.presence_penalty,
        ));
    }
    if let Some(constraint) = constraint {
        let grammar = grammar(constraint)?;
        let sampler = LlamaSampler::grammar(model, &grammar, "root").map_err(|e| {
            EngineError::InvalidRequest(format!("the output constraint could not be compiled: {e}"))
        })?;
        chain.push(sampler);
    }
    if sampling.temperature <= 0.0 {
        if chain.is_empty() {
            return Ok(None);
        }
        chain.push(LlamaSampler::greedy());
    } else {
        if sampling.top_k > 0 {
            chain.push(LlamaSampler::top_k(sampling.top_k));
        }
        chain.push(LlamaSampler::top_p(sampling.top_p, 1));
        chain.push(LlamaSampler::min_p(sampling.min_p, 1));
        chain.push(LlamaSampler::temp(sampling.temperature));
        chain.push(LlamaSampler::dist(sampling.seed));
    }
    Ok(Some(LlamaSampler::chain_simple(chain)))
}

/// The GBNF grammar for a constraint (llama.cpp's own JSON-Schema converter).
fn grammar(constraint: &Constraint) -> Result<String, EngineError> {
    let schema_grammar = |schema: &str, what: &str| {
        llama_cpp_2::json_schema_to_grammar(schema).map_err(|e| {
            EngineError::InvalidRequest(format!(
                "{what} cannot be enforced by the local engine: {e}"
            ))
        })
    };
    match constraint {
        Constraint::JsonObject => {
            schema_grammar(r#"{"type":"object"}"#, "response_format json_object")
        }
        Constraint::JsonSchema(schema) => schema_grammar(schema, "the response_format JSON schema"),
        Constraint::ToolCalls(tools) => {
            let variants: Vec<serde_json::Value> = tools
                .iter()
                .map(|(name, params)| {
                    let params: serde_json::Value = serde_json::from_str(params)
                        .unwrap_or_else(|_| serde_json::json!({"type": "object"}));
                    serde_json::json!({
                        "type": "object",
                        "properties": {"name": {"const": name}, "arguments": params},
                        "required": ["name", "arguments"],
                    })
                })
                .collect();
            let schema = serde_json::json!({"anyOf": variants}).to_string();
            let call = schema_grammar(&schema, "the tool parameters schema")?;
            Ok(wrap_tool_call(&call))
        }
    }
}

/// Renames the converter's `root` rule and wraps it in the `<tool_call>` tags the chat
/// template taught the model.
fn wrap_tool_call(json_grammar: &str) -> String {
    let mut out = String::from("root ::= \"<tool_call>\\n\" tool-call-json \"\\n</tool_call>\"\n");
    for line in json_grammar.lines() {
        match line.strip_prefix("root ::=") {
            Some(rest) => {
                out.push_str("tool-call-json ::=");
                out.push_str(rest);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}
