//! What each model can do and what it costs: a built-in table of well-known models
//! (`data/catalog.json`, kept as data), looked up by upstream model id, overridable per
//! deployment from the config.

use serde::Deserialize;

/// Capabilities that decide whether a deployment can take a request at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    pub tools: bool,
    pub vision: bool,
    pub json_schema: bool,
    pub reasoning: bool,
    /// Prompt plus answer, in tokens.
    pub context_window: u32,
    pub max_output: u32,
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cached_input: f64,
}

impl Price {
    /// The cost in USD of `input` prompt tokens (of which `cached` read from a cache) and
    /// `output` generated tokens.
    pub fn cost(&self, input: u64, cached: u64, output: u64) -> f64 {
        let fresh = input.saturating_sub(cached) as f64;
        (fresh * self.input + cached as f64 * self.cached_input + output as f64 * self.output)
            / 1_000_000.0
    }
}

/// One catalog entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub capabilities: Capabilities,
    /// `None`: not known (an override that names capabilities of an unlisted model).
    pub price: Option<Price>,
    /// Quality tier, 1 (small, fast) to 5 (frontier).
    pub tier: u8,
}

/// What the config says of one deployment, over the catalog's entry. Unset fields keep the
/// catalog's value; for a model the catalog does not list, unset capabilities are assumed
/// present (nothing is filtered on a guess).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InfoOverride {
    pub tools: Option<bool>,
    pub vision: Option<bool>,
    pub json_schema: Option<bool>,
    pub reasoning: Option<bool>,
    pub context_window: Option<u32>,
    pub max_output: Option<u32>,
    pub price: Option<Price>,
    pub tier: Option<u8>,
}

impl InfoOverride {
    pub fn is_empty(&self) -> bool {
        *self == InfoOverride::default()
    }

    /// `base` (the catalog's entry, if any) with these fields over it; `None` when neither
    /// says anything.
    pub fn apply(&self, base: Option<&ModelInfo>) -> Option<ModelInfo> {
        if base.is_none() && self.is_empty() {
            return None;
        }
        let mut info = base.cloned().unwrap_or(ModelInfo {
            capabilities: Capabilities {
                tools: true,
                vision: true,
                json_schema: true,
                reasoning: true,
                context_window: u32::MAX,
                max_output: u32::MAX,
            },
            price: None,
            tier: 3,
        });
        let c = &mut info.capabilities;
        c.tools = self.tools.unwrap_or(c.tools);
        c.vision = self.vision.unwrap_or(c.vision);
        c.json_schema = self.json_schema.unwrap_or(c.json_schema);
        c.reasoning = self.reasoning.unwrap_or(c.reasoning);
        c.context_window = self.context_window.unwrap_or(c.context_window);
        c.max_output = self.max_output.unwrap_or(c.max_output);
        if self.price.is_some() {
            info.price = self.price;
        }
        info.tier = self.tier.unwrap_or(info.tier);
        Some(info)
    }
}

#[derive(Deserialize)]
struct RawCatalog {
    models: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: String,
    input: f64,
    output: f64,
    cached: f64,
    context: u32,
    max_output: u32,
    tier: u8,
    tools: bool,
    vision: bool,
    json_schema: bool,
    reasoning: bool,
}

/// Model ids (normalised) and what is known of them.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: Vec<(String, ModelInfo)>,
}

/// The built-in table is not valid (a build-time mistake, caught by the tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogError(pub String);

impl Catalog {
    /// The table shipped with Switchyard.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        Catalog::from_json(include_str!("../data/catalog.json"))
    }

    pub fn from_json(text: &str) -> Result<Catalog, CatalogError> {
        let raw: RawCatalog =
            serde_json::from_str(text).map_err(|e| CatalogError(e.to_string()))?;
        let entries = raw
            .models
            .into_iter()
            .map(|e| {
                (
                    e.id,
                    ModelInfo {
                        capabilities: Capabilities {
                            tools: e.tools,
                            vision: e.vision,
                            json_schema: e.json_schema,
                            reasoning: e.reasoning,
                            context_window: e.context,
                            max_output: e.max_output,
                        },
                        price: Some(Price {
                            input: e.input,
                            output: e.output,
                            cached_input: e.cached,
                        }),
                        tier: e.tier,
                    },
                )
            })
            .collect();
        Ok(Catalog { entries })
    }

    /// What is known of `upstream_model` (a provider's model id, a Bedrock profile id or ARN,
    /// a `models/...` name, a dated version): the longest catalog id that prefixes its
    /// normalised form at a word boundary.
    pub fn lookup(&self, upstream_model: &str) -> Option<&ModelInfo> {
        let id = normalise(upstream_model);
        self.entries
            .iter()
            .filter(|(known, _)| {
                id.strip_prefix(known.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', ':', '@']))
            })
            .max_by_key(|(known, _)| known.len())
            .map(|(_, info)| info)
    }
}

/// Lower case, without path prefixes (`models/`, `meta-llama/`, ARN paths), Bedrock
/// geography prefixes (`eu.`) or vendor prefixes (`anthropic.`).
fn normalise(model: &str) -> String {
    let mut id = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    for geography in [
        "us-gov.", "us.", "eu.", "apac.", "global.", "ca.", "jp.", "au.",
    ] {
        if let Some(rest) = id.strip_prefix(geography) {
            id = rest.to_owned();
            break;
        }
    }
    if let Some((vendor, rest)) = id.split_once('.') {
        if !vendor.is_empty() && vendor.bytes().all(|b| b.is_ascii_lowercase()) {
            id = rest.to_owned();
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_loads_and_is_consistent() {
        let catalog = Catalog::builtin().unwrap();
        assert!(catalog.entries.len() >= 30);
        for (id, info) in &catalog.entries {
            assert!((1..=5).contains(&info.tier), "{id}");
            assert!(
                info.capabilities.max_output <= info.capabilities.context_window,
                "{id}"
            );
            let price = info.price.unwrap();
            assert!(price.cached_input <= price.input, "{id}");
        }
    }

    #[test]
    fn provider_spellings_find_their_entry() {
        let catalog = Catalog::builtin().unwrap();
        let tier = |id: &str| catalog.lookup(id).map(|i| i.tier);
        let input = |id: &str| catalog.lookup(id).and_then(|i| i.price).map(|p| p.input);
        assert_eq!(input("gpt-4o-mini-2024-07-18"), Some(0.15));
        assert_eq!(input("gpt-4o"), Some(2.5));
        assert_eq!(input("gpt-4.1-mini"), Some(0.4));
        assert_eq!(
            input("eu.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            Some(3.0)
        );
        assert_eq!(input("claude-haiku-4-5"), Some(1.0));
        assert_eq!(input("models/gemini-2.5-flash-lite"), Some(0.1));
        assert_eq!(input("gemini-2.5-flash"), Some(0.3));
        assert_eq!(input("us.amazon.nova-pro-v1:0"), Some(0.8));
        assert_eq!(
            input("arn:aws:bedrock:eu-central-1:1:inference-profile/eu.anthropic.claude-3-5-haiku-20241022-v1:0"),
            Some(0.8)
        );
        assert_eq!(tier("o3"), Some(5));
        assert_eq!(tier("o3-mini-2025-01-31"), Some(4));
        assert_eq!(tier("o3-pro"), Some(5), "a longer id under a known one");
        assert_eq!(
            catalog.lookup("gpt-4"),
            None,
            "no entry is a prefix of gpt-4"
        );
        assert_eq!(catalog.lookup("my-finetune"), None);
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let catalog = Catalog::builtin().unwrap();
        let vision = InfoOverride {
            vision: Some(true),
            ..InfoOverride::default()
        };
        let info = vision.apply(catalog.lookup("command-a")).unwrap();
        assert!(info.capabilities.vision && info.capabilities.tools);
        assert_eq!(info.price.unwrap().input, 2.5);
        assert_eq!(InfoOverride::default().apply(None), None);
        let unlisted = InfoOverride {
            tools: Some(false),
            ..InfoOverride::default()
        }
        .apply(None)
        .unwrap();
        assert!(!unlisted.capabilities.tools && unlisted.capabilities.vision);
        assert_eq!(unlisted.price, None);
    }

    #[test]
    fn cost_counts_cached_tokens_at_their_price() {
        let price = Price {
            input: 3.0,
            output: 15.0,
            cached_input: 0.3,
        };
        let cost = price.cost(1_000_000, 500_000, 100_000);
        assert!((cost - (1.5 + 0.15 + 1.5)).abs() < 1e-12);
    }
}
