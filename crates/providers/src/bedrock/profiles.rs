//! Where Bedrock may process a request, read from the model id: a plain model id runs in the
//! configured region; a system-defined cross-region inference profile (`eu.`, `us.`,
//! `apac.`, ...) may route to any region of its geography; a `global.` profile may route
//! anywhere. Kept as data for the sovereignty policies, which must not let a `global.`
//! profile pass for an EU deployment.

/// The area a request to a Bedrock model id may be processed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only the deployment's configured region.
    InRegion,
    /// Any region of this geography (`EU`, `US`, `APAC`, `US-GOV`, `CA`, `JP`, `AU`).
    Geography(&'static str),
    /// Any commercial region worldwide: no geographic promise.
    Global,
    /// An application inference profile ARN: its regions are not visible in the id.
    Unknown,
}

/// Cross-region profile prefixes and the geography each stays within.
const PREFIXES: [(&str, &str); 8] = [
    ("us-gov.", "US-GOV"),
    ("us.", "US"),
    ("eu.", "EU"),
    ("apac.", "APAC"),
    ("ca.", "CA"),
    ("jp.", "JP"),
    ("au.", "AU"),
    ("global.", "GLOBAL"),
];

/// The scope of `model_id` (a model id, an inference profile id, or either's ARN).
pub fn scope(model_id: &str) -> Scope {
    let id = if model_id.starts_with("arn:") {
        if model_id.contains(":application-inference-profile/") {
            return Scope::Unknown;
        }
        model_id.rsplit('/').next().unwrap_or(model_id)
    } else {
        model_id
    };
    match PREFIXES.iter().find(|(prefix, _)| id.starts_with(prefix)) {
        Some((_, "GLOBAL")) => Scope::Global,
        Some((_, geography)) => Scope::Geography(geography),
        None => Scope::InRegion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_keep_their_geography() {
        assert_eq!(
            scope("anthropic.claude-sonnet-4-20250514-v1:0"),
            Scope::InRegion
        );
        assert_eq!(
            scope("eu.anthropic.claude-sonnet-4-20250514-v1:0"),
            Scope::Geography("EU")
        );
        assert_eq!(scope("us.amazon.nova-pro-v1:0"), Scope::Geography("US"));
        assert_eq!(
            scope("us-gov.anthropic.claude-3-haiku-20240307-v1:0"),
            Scope::Geography("US-GOV")
        );
        assert_eq!(
            scope("apac.amazon.nova-lite-v1:0"),
            Scope::Geography("APAC")
        );
        assert_eq!(
            scope("global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            Scope::Global
        );
        assert_eq!(
            scope("arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0"),
            Scope::Geography("EU")
        );
        assert_eq!(
            scope("arn:aws:bedrock:eu-central-1:123456789012:application-inference-profile/a1b2c3"),
            Scope::Unknown
        );
    }
}
