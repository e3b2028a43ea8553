//! A policy: which deployments a request may be sent to. Rules (all optional): allowed and
//! denied jurisdictions, allowed operators, allowed hostings, zero retention only, allowed
//! model names. A deployment passes a policy when every rule it has passes; several
//! policies on one request (tenant, key, header, default) must all pass, so adding one can
//! only narrow where data goes.
//!
//! Jurisdictions are judged conservatively: a deployment tagged `EU` passes `allow = ["EU"]`
//! but not `allow = ["DE"]` (it may be elsewhere in the EU), and fails `deny = ["DE"]`; one
//! tagged `UNKNOWN` or `GLOBAL` passes no allow-list and fails every deny-list. `LOCAL` (this
//! machine) passes jurisdiction rules: the data does not leave the gateway.

use switchyard_types::{Hosting, Retention};

use crate::places::{self, Countries, Place};

/// What a policy is given, as written in the config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySpec {
    pub name: String,
    pub allow_jurisdictions: Option<Vec<String>>,
    pub deny_jurisdictions: Vec<String>,
    pub allow_operators: Option<Vec<String>>,
    /// `embedded`, `on-prem`, `cloud`; or the shorthand `on-prem-only` (embedded or on-prem).
    pub hosting: Option<Vec<String>>,
    pub zero_retention: bool,
    pub allow_models: Option<Vec<String>>,
    /// The PII guard: `off` (default), `block`, `redact` or `mask-and-restore`.
    pub pii: Option<String>,
    /// The PII kinds scanned for (default: the detector's default set).
    pub pii_kinds: Option<Vec<String>>,
}

/// A spec that cannot be a policy: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    pub field: &'static str,
    pub message: String,
}

/// A deployment's tags as policies read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tags {
    pub place: Place,
    /// The jurisdiction as tagged, for messages.
    pub jurisdiction: String,
    pub operator: String,
    pub hosting: Hosting,
    pub retention: Retention,
}

impl Tags {
    /// `None` when `jurisdiction` is not a known place.
    pub fn new(
        jurisdiction: &str,
        operator: &str,
        hosting: Hosting,
        retention: Retention,
    ) -> Option<Tags> {
        Some(Tags {
            place: places::place(jurisdiction)?,
            jurisdiction: jurisdiction.to_owned(),
            operator: operator.to_owned(),
            hosting,
            retention,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    /// A fingerprint of the rules: changes whenever the policy does (receipts name it).
    pub version: String,
    allow: Option<(Countries, String)>,
    deny: Option<(Countries, String)>,
    operators: Option<Vec<String>>,
    hosting: Option<Vec<Hosting>>,
    zero_retention: bool,
    models: Option<Vec<String>>,
    /// What the PII guard does for requests under this policy.
    pub pii: crate::pii::Rule,
}

fn bad(field: &'static str, message: impl Into<String>) -> SpecError {
    SpecError {
        field,
        message: message.into(),
    }
}

fn place_list(field: &'static str, names: &[String]) -> Result<(Countries, String), SpecError> {
    if names.is_empty() {
        return Err(bad(field, "must name at least one country or group"));
    }
    let mut set = Countries::NONE;
    for name in names {
        let countries = places::countries(name).ok_or_else(|| {
            bad(
                field,
                format!("`{name}` is not an ISO 3166 country code (upper case) or a group (EU, EEA, EFTA, APAC, UK)"),
            )
        })?;
        set = set.union(countries);
    }
    Ok((set, names.join(", ")))
}

impl Policy {
    /// A policy whose PII kinds are the built-in detector's.
    pub fn new(spec: &PolicySpec) -> Result<Policy, SpecError> {
        Policy::with_detector(spec, crate::pii::Detector::builtin())
    }

    /// A policy whose PII kinds are named among `detector`'s.
    pub fn with_detector(
        spec: &PolicySpec,
        detector: &crate::pii::Detector,
    ) -> Result<Policy, SpecError> {
        let name = spec.name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(bad(
                "name",
                "must be 1-64 characters of letters, digits, `-`, `_`, `.`",
            ));
        }
        let allow = spec
            .allow_jurisdictions
            .as_deref()
            .map(|names| place_list("allow_jurisdictions", names))
            .transpose()?;
        let deny = (!spec.deny_jurisdictions.is_empty())
            .then(|| place_list("deny_jurisdictions", &spec.deny_jurisdictions))
            .transpose()?;
        let operators = match &spec.allow_operators {
            Some(list) if list.is_empty() => {
                return Err(bad("allow_operators", "must name at least one operator"))
            }
            Some(list) => Some(list.iter().map(|o| o.to_lowercase()).collect()),
            None => None,
        };
        let hosting = match &spec.hosting {
            None => None,
            Some(list) if list.is_empty() => {
                return Err(bad("hosting", "must name at least one hosting"))
            }
            Some(list) => {
                let mut kinds = Vec::new();
                for h in list {
                    match h.as_str() {
                        "cloud" => kinds.push(Hosting::Cloud),
                        "on-prem" => kinds.push(Hosting::OnPrem),
                        "embedded" => kinds.push(Hosting::Embedded),
                        "on-prem-only" => kinds.extend([Hosting::OnPrem, Hosting::Embedded]),
                        other => {
                            return Err(bad(
                                "hosting",
                                format!("unknown hosting `{other}`; expected cloud, on-prem, embedded or on-prem-only"),
                            ))
                        }
                    }
                }
                Some(kinds)
            }
        };
        let models = match &spec.allow_models {
            Some(list) if list.is_empty() => {
                return Err(bad("allow_models", "must name at least one model"))
            }
            other => other.clone(),
        };
        let mode = match spec.pii.as_deref() {
            None => crate::pii::Mode::Off,
            Some(text) => crate::pii::Mode::parse(text).ok_or_else(|| {
                bad(
                    "pii",
                    format!(
                        "unknown mode `{text}`; expected off, block, redact or mask-and-restore"
                    ),
                )
            })?,
        };
        if spec.pii_kinds.is_some() && mode == crate::pii::Mode::Off {
            return Err(bad(
                "pii_kinds",
                "needs `pii` set to block, redact or mask-and-restore",
            ));
        }
        let pii = crate::pii::Rule {
            mode,
            kinds: detector.kinds(spec.pii_kinds.as_deref())?,
        };
        Ok(Policy {
            name: name.to_owned(),
            version: fingerprint(spec),
            allow,
            deny,
            operators,
            hosting,
            zero_retention: spec.zero_retention,
            models,
            pii,
        })
    }

    /// Whether a request for `model` may go to a deployment with these tags; `Err` says
    /// which rule refuses it.
    pub fn check(&self, model: &str, tags: &Tags) -> Result<(), String> {
        if let Some(models) = &self.models {
            if !models.iter().any(|m| m == model) {
                return Err(format!("model `{model}` is not allowed"));
            }
        }
        self.check_place(tags)
    }

    /// Whether data may go to a destination with these tags (a deployment or an exporter):
    /// jurisdiction, operator, hosting and retention rules; `Err` says which refuses it.
    pub fn check_place(&self, tags: &Tags) -> Result<(), String> {
        if let Place::In(countries) = tags.place {
            if let Some((allowed, names)) = &self.allow {
                if !countries.within(*allowed) {
                    return Err(format!(
                        "jurisdiction {} is outside {names}",
                        tags.jurisdiction
                    ));
                }
            }
            if let Some((denied, names)) = &self.deny {
                if countries.meets(*denied) {
                    return Err(format!(
                        "jurisdiction {} may be in {names}",
                        tags.jurisdiction
                    ));
                }
            }
        }
        if let Some(operators) = &self.operators {
            let operator = tags.operator.to_lowercase();
            if !operators.contains(&operator) {
                return Err(format!("operator {} is not allowed", tags.operator));
            }
        }
        if let Some(hosting) = &self.hosting {
            if !hosting.contains(&tags.hosting) {
                return Err(format!("hosting {} is not allowed", tags.hosting.as_str()));
            }
        }
        if self.zero_retention && tags.retention != Retention::Zero {
            return Err(format!("retention {} is not zero", tags.retention));
        }
        Ok(())
    }
}

/// 16 hex digits of FNV-1a over the spec's normal form.
fn fingerprint(spec: &PolicySpec) -> String {
    let text = format!("{spec:?}");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The first of `policies` that refuses the deployment, with its reason.
pub fn first_refusal<'p>(
    policies: &[&'p Policy],
    model: &str,
    tags: &Tags,
) -> Option<(&'p Policy, String)> {
    policies
        .iter()
        .find_map(|p| p.check(model, tags).err().map(|why| (*p, why)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    fn tags(j: &str, operator: &str, hosting: Hosting, retention: Retention) -> Tags {
        Tags::new(j, operator, hosting, retention).unwrap()
    }

    #[test]
    fn each_rule_refuses_with_its_reason() {
        let eu = Policy::new(&PolicySpec {
            name: "eu-only".into(),
            allow_jurisdictions: list(&["EU", "CH"]),
            ..PolicySpec::default()
        })
        .unwrap();
        let cloud = |j| tags(j, "AWS", Hosting::Cloud, Retention::Zero);
        assert!(eu.check("m", &cloud("DE")).is_ok());
        assert!(eu.check("m", &cloud("EU")).is_ok());
        assert!(eu.check("m", &cloud("CH")).is_ok());
        assert_eq!(
            eu.check("m", &cloud("US")).unwrap_err(),
            "jurisdiction US is outside EU, CH"
        );
        assert!(eu.check("m", &cloud("GLOBAL")).is_err());
        assert!(eu.check("m", &cloud("UNKNOWN")).is_err());
        assert!(eu.check("m", &cloud("EEA")).is_err(), "EEA may be Norway");
        assert!(eu
            .check(
                "m",
                &tags("LOCAL", "self", Hosting::Embedded, Retention::Zero)
            )
            .is_ok());

        let no_de = Policy::new(&PolicySpec {
            name: "no-de".into(),
            deny_jurisdictions: vec!["DE".into()],
            ..PolicySpec::default()
        })
        .unwrap();
        assert!(no_de.check("m", &cloud("FR")).is_ok());
        assert!(
            no_de.check("m", &cloud("EU")).is_err(),
            "somewhere in the EU may be Germany"
        );
        assert!(no_de.check("m", &cloud("UNKNOWN")).is_err());

        let strict = Policy::new(&PolicySpec {
            name: "strict".into(),
            allow_operators: list(&["Mistral AI", "self"]),
            hosting: list(&["on-prem-only"]),
            zero_retention: true,
            allow_models: list(&["chat"]),
            ..PolicySpec::default()
        })
        .unwrap();
        let onprem = tags("FR", "self", Hosting::OnPrem, Retention::Zero);
        assert!(strict.check("chat", &onprem).is_ok());
        assert_eq!(
            strict.check("other", &onprem).unwrap_err(),
            "model `other` is not allowed"
        );
        assert!(strict
            .check(
                "chat",
                &tags("FR", "Mistral AI", Hosting::Cloud, Retention::Zero)
            )
            .unwrap_err()
            .contains("hosting cloud"));
        assert!(strict
            .check(
                "chat",
                &tags("FR", "OpenAI", Hosting::OnPrem, Retention::Zero)
            )
            .unwrap_err()
            .contains("operator OpenAI"));
        assert!(strict
            .check(
                "chat",
                &tags("FR", "self", Hosting::OnPrem, Retention::Days(30))
            )
            .unwrap_err()
            .contains("retention 30d"));
        assert!(
            strict
                .check(
                    "chat",
                    &tags("FR", "SELF", Hosting::Embedded, Retention::Zero)
                )
                .is_ok(),
            "operators ignore case"
        );

        let both = [&eu, &no_de];
        let (p, why) = first_refusal(&both, "m", &cloud("US")).unwrap();
        assert_eq!(
            (p.name.as_str(), why.as_str()),
            ("eu-only", "jurisdiction US is outside EU, CH")
        );
        assert_eq!(
            first_refusal(&both, "m", &cloud("DE")).unwrap().0.name,
            "no-de"
        );
        assert!(first_refusal(&both, "m", &cloud("FR")).is_none());
    }

    #[test]
    fn bad_specs_name_their_field_and_versions_follow_the_rules() {
        let field = |spec: PolicySpec| Policy::new(&spec).unwrap_err().field;
        let named = PolicySpec {
            name: "p".into(),
            ..PolicySpec::default()
        };
        assert_eq!(field(PolicySpec::default()), "name");
        assert_eq!(
            field(PolicySpec {
                allow_jurisdictions: list(&["Europe"]),
                ..named.clone()
            }),
            "allow_jurisdictions"
        );
        assert_eq!(
            field(PolicySpec {
                allow_jurisdictions: list(&[]),
                ..named.clone()
            }),
            "allow_jurisdictions"
        );
        assert_eq!(
            field(PolicySpec {
                deny_jurisdictions: vec!["us".into()],
                ..named.clone()
            }),
            "deny_jurisdictions"
        );
        assert_eq!(
            field(PolicySpec {
                hosting: list(&["basement"]),
                ..named.clone()
            }),
            "hosting"
        );
        let a = Policy::new(&named).unwrap();
        let b = Policy::new(&PolicySpec {
            zero_retention: true,
            ..named.clone()
        })
        .unwrap();
        assert_ne!(a.version, b.version);
        assert_eq!(a.version, Policy::new(&named).unwrap().version);
    }
}

#[cfg(test)]
mod generated {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    const NAMES: [&str; 14] = [
        "DE", "FR", "US", "CH", "EU", "EEA", "EFTA", "APAC", "UK", "JP", "NO", "BR", "IE", "SG",
    ];
    const TAGGED: [&str; 12] = [
        "DE", "FR", "US", "CH", "EU", "EEA", "GLOBAL", "UNKNOWN", "LOCAL", "JP", "NO", "APAC",
    ];

    /// A country set written out as codes, the slow and obvious way (computed once per name).
    fn codes(name: &str) -> BTreeSet<String> {
        static SETS: std::sync::OnceLock<
            std::collections::HashMap<&'static str, BTreeSet<String>>,
        > = std::sync::OnceLock::new();
        let sets = SETS.get_or_init(|| {
            let all: Vec<String> = crate::places::all_codes().map(str::to_owned).collect();
            NAMES
                .iter()
                .chain(TAGGED.iter())
                .map(|&name| {
                    let set = match name {
                        "GLOBAL" | "UNKNOWN" => all.iter().cloned().collect(),
                        _ => all
                            .iter()
                            .filter(|c| {
                                places::countries(c).is_some_and(|one| {
                                    one.within(places::countries(name).unwrap_or_default())
                                })
                            })
                            .cloned()
                            .collect(),
                    };
                    (name, set)
                })
                .collect()
        });
        sets.get(name).cloned().unwrap_or_default()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 100_000, failure_persistence: None, ..ProptestConfig::default() })]

        /// A policy's verdict on a jurisdiction equals the set arithmetic done by hand: allowed
        /// when every country the tag may mean is allowed and none is denied; `LOCAL` always.
        #[test]
        fn every_refusal_is_consistent_with_the_country_sets(
            allow in prop::option::of(prop::sample::subsequence(NAMES.to_vec(), 1..4)),
            deny in prop::sample::subsequence(NAMES.to_vec(), 0..3),
            tag in prop::sample::select(TAGGED.to_vec()),
        ) {
            let policy = Policy::new(&PolicySpec {
                name: "p".into(),
                allow_jurisdictions: allow.as_ref().map(|a| a.iter().map(|s| s.to_string()).collect()),
                deny_jurisdictions: deny.iter().map(|s| s.to_string()).collect(),
                ..PolicySpec::default()
            })
            .unwrap();
            let tags = Tags::new(tag, "op", Hosting::Cloud, Retention::Zero).unwrap();
            let verdict = policy.check("m", &tags).is_ok();
            let expected = tag == "LOCAL" || {
                let here = codes(tag);
                let allowed = allow.as_ref().is_none_or(|a| {
                    let ok: BTreeSet<String> = a.iter().flat_map(|n| codes(n)).collect();
                    here.is_subset(&ok)
                });
                let denied: BTreeSet<String> = deny.iter().flat_map(|n| codes(n)).collect();
                allowed && here.is_disjoint(&denied)
            };
            prop_assert_eq!(verdict, expected);
        }
    }
}
