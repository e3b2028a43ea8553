//! Where the well-known endpoints run, who runs them and what they keep, for deployments whose
//! config does not say: a Bedrock region's country, and an inference profile's geography on
//! top (`eu.` stays in the EU, `global.` promises nothing); a Vertex location's country; the
//! hosted APIs' home countries. A custom endpoint is `UNKNOWN` unless it is on this machine
//! (`LOCAL`). Config tags override every default.

use switchyard_types::Retention;

/// The defaults for one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultTags {
    pub jurisdiction: String,
    pub operator: String,
    pub retention: Retention,
}

fn tags(jurisdiction: &str, operator: &str, retention: Retention) -> DefaultTags {
    DefaultTags {
        jurisdiction: jurisdiction.to_owned(),
        operator: operator.to_owned(),
        retention,
    }
}

/// The AWS region's country.
pub fn aws_region(region: &str) -> &'static str {
    match region {
        r if r.starts_with("us-") => "US",
        "eu-central-1" => "DE",
        "eu-central-2" => "CH",
        "eu-west-1" => "IE",
        "eu-west-2" => "GB",
        "eu-west-3" => "FR",
        "eu-north-1" => "SE",
        "eu-south-1" => "IT",
        "eu-south-2" => "ES",
        "ca-central-1" | "ca-west-1" => "CA",
        "ap-northeast-1" | "ap-northeast-3" => "JP",
        "ap-northeast-2" => "KR",
        "ap-south-1" | "ap-south-2" => "IN",
        "ap-southeast-1" => "SG",
        "ap-southeast-2" | "ap-southeast-4" => "AU",
        "ap-southeast-3" => "ID",
        "ap-southeast-5" => "MY",
        "ap-east-1" => "HK",
        "sa-east-1" => "BR",
        "me-central-1" => "AE",
        "me-south-1" => "BH",
        "il-central-1" => "IL",
        "af-south-1" => "ZA",
        _ => "UNKNOWN",
    }
}

/// The geography of a Bedrock cross-region inference profile, from the model id's prefix
/// (`eu.anthropic.claude-...`); `None` for a plain model id (its region decides).
pub fn bedrock_profile(model: &str) -> Option<&'static str> {
    let prefix = model.split_once('.')?.0;
    Some(match prefix {
        "eu" => "EU",
        "us" | "us-gov" => "US",
        "apac" => "APAC",
        "jp" => "JP",
        "au" => "AU",
        "ca" => "CA",
        "global" => "GLOBAL",
        _ => return None,
    })
}

/// A Vertex AI location's country (or group).
pub fn gcp_location(location: &str) -> &'static str {
    match location {
        "eu" => "EU",
        "us" => "US",
        "global" => "GLOBAL",
        l if l.starts_with("us-") => "US",
        "europe-west1" => "BE",
        "europe-west2" => "GB",
        "europe-west3" => "DE",
        "europe-west4" => "NL",
        "europe-west6" => "CH",
        "europe-west8" => "IT",
        "europe-west9" => "FR",
        "europe-west10" => "DE",
        "europe-west12" => "IT",
        "europe-north1" => "FI",
        "europe-central2" => "PL",
        "europe-southwest1" => "ES",
        "asia-northeast1" | "asia-northeast2" => "JP",
        "asia-northeast3" => "KR",
        "asia-southeast1" => "SG",
        "asia-south1" => "IN",
        "australia-southeast1" => "AU",
        "northamerica-northeast1" | "northamerica-northeast2" => "CA",
        "southamerica-east1" => "BR",
        "me-central2" => "SA",
        _ => "UNKNOWN",
    }
}

/// Whether a base URL points at this machine.
fn loopback(base_url: &str) -> bool {
    let host = base_url
        .split("://")
        .nth(1)
        .unwrap_or(base_url)
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or("")
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The defaults for a deployment of provider `kind` (the config's type name) at `base_url`
/// (`None`: the kind's public endpoint), in `region` (Bedrock) or `location` (Vertex),
/// serving `model` upstream.
pub fn defaults(
    kind: &str,
    base_url: Option<&str>,
    region: Option<&str>,
    location: Option<&str>,
    model: &str,
) -> DefaultTags {
    if base_url.is_some_and(loopback) {
        return tags("LOCAL", "self", Retention::Zero);
    }
    let public = base_url.is_none();
    match kind {
        "local" => tags("LOCAL", "self", Retention::Zero),
        "bedrock" => {
            let place =
                bedrock_profile(model).unwrap_or_else(|| region.map_or("UNKNOWN", aws_region));
            tags(place, "AWS", Retention::Zero)
        }
        "vertex" => tags(
            location.map_or("UNKNOWN", gcp_location),
            "Google",
            Retention::Unknown,
        ),
        "openai" if public => tags("US", "OpenAI", Retention::Days(30)),
        "anthropic" if public => tags("US", "Anthropic", Retention::Days(30)),
        // The Gemini API (AI Studio) makes no residency promise.
        "gemini" if public => tags("GLOBAL", "Google", Retention::Unknown),
        "mistral" if public => tags("EU", "Mistral AI", Retention::Days(30)),
        "cohere" if public => tags("US", "Cohere", Retention::Days(30)),
        "azure" => tags("UNKNOWN", "Microsoft", Retention::Days(30)),
        _ => tags("UNKNOWN", "unknown", Retention::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_endpoints_and_bedrock_profiles() {
        let d = |kind, url, region, model| defaults(kind, url, region, None, model).jurisdiction;
        assert_eq!(
            d(
                "bedrock",
                None,
                Some("eu-central-1"),
                "anthropic.claude-3-haiku"
            ),
            "DE"
        );
        assert_eq!(
            d(
                "bedrock",
                None,
                Some("eu-central-1"),
                "eu.anthropic.claude-sonnet-4"
            ),
            "EU"
        );
        assert_eq!(
            d(
                "bedrock",
                None,
                Some("eu-central-1"),
                "global.anthropic.claude-sonnet-4"
            ),
            "GLOBAL"
        );
        assert_eq!(
            d("bedrock", None, Some("us-east-1"), "us.meta.llama3"),
            "US"
        );
        assert_eq!(d("bedrock", None, None, "amazon.nova-pro-v1:0"), "UNKNOWN");
        assert_eq!(d("openai", None, None, "gpt-4o"), "US");
        assert_eq!(
            d("openai", Some("https://llm.internal.example/v1"), None, "x"),
            "UNKNOWN"
        );
        assert_eq!(
            d("vllm", Some("http://127.0.0.1:8000/v1"), None, "x"),
            "LOCAL"
        );
        assert_eq!(
            d("ollama", Some("http://localhost:11434"), None, "x"),
            "LOCAL"
        );
        assert_eq!(d("openai", Some("http://[::1]:9/v1"), None, "x"), "LOCAL");
        assert_eq!(
            d("openai", Some("http://127.0.0.1.evil.com/v1"), None, "x"),
            "UNKNOWN"
        );
        assert_eq!(
            defaults("vertex", None, None, Some("europe-west4"), "gemini").jurisdiction,
            "NL"
        );
        assert_eq!(d("local", None, None, "qwen"), "LOCAL");
        assert_eq!(d("gemini", None, None, "gemini-2.5"), "GLOBAL");
        assert_eq!(
            defaults("anthropic", None, None, None, "c").operator,
            "Anthropic"
        );
        assert_eq!(
            defaults("bedrock", None, None, None, "c").retention,
            Retention::Zero
        );
    }
}
