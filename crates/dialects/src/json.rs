//! Request-body parsing shared by the dialects: serde errors turned into the field path at
//! fault, so that each dialect can word the error its own way.

/// Why a body did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// Not JSON at all (or truncated).
    Syntax(String),
    /// A field the format does not have; `path` ends at that field.
    UnknownField { path: String },
    /// A required field is absent; `path` ends at that field.
    MissingField { path: String },
    /// A field has the wrong type or value.
    Invalid {
        path: Option<String>,
        message: String,
    },
}

/// Deserializes a request body. The fast path is plain `serde_json`; only on failure is the
/// body parsed again to find the path of the offending field.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, JsonError> {
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(err) if err.is_syntax() || err.is_eof() || err.is_io() => {
            Err(JsonError::Syntax(err.to_string()))
        }
        Err(_) => {
            let mut de = serde_json::Deserializer::from_slice(body);
            let err = match serde_path_to_error::deserialize::<_, T>(&mut de) {
                Ok(_) => {
                    return Err(JsonError::Invalid {
                        path: None,
                        message: "invalid request body".to_owned(),
                    })
                }
                Err(err) => err,
            };
            let path = err.path().to_string();
            let inner = err.into_inner().to_string();
            let inner = inner.split(" at line ").next().unwrap_or(&inner).to_owned();
            let path = (path != ".").then_some(path);
            if let Some(field) = quoted_field(&inner, "unknown field `") {
                // The path usually ends at the unknown field already; inside an internally
                // tagged enum (content blocks) it ends at the block.
                let path = match path {
                    Some(p) if p == field || p.ends_with(&format!(".{field}")) => p,
                    Some(p) => format!("{p}.{field}"),
                    None => field.to_owned(),
                };
                return Err(JsonError::UnknownField { path });
            }
            if let Some(field) = quoted_field(&inner, "missing field `") {
                let path = match path {
                    Some(p) => format!("{p}.{field}"),
                    None => field.to_owned(),
                };
                return Err(JsonError::MissingField { path });
            }
            Err(JsonError::Invalid {
                path,
                message: inner,
            })
        }
    }
}

fn quoted_field<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next()
}

/// Tool arguments are JSON text canonically and an object for Anthropic, Bedrock and Gemini.
/// Text that is not a JSON object (a model's malformed call) becomes `{}`, as
/// `reference/apis.md` §8.5 says.
pub(crate) fn arguments_object(arguments: &str) -> serde_json::Value {
    match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => serde_json::Value::Object(Default::default()),
    }
}
