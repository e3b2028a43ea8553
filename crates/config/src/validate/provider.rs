//! One `[[providers]]` entry: its kind, address, credentials (API key, AWS, Google), the
//! embedded engine's settings, tags, timeouts and the cloud file prefixes it accepts.

use super::*;

pub(super) fn provider(
    i: usize,
    p: &RawProvider,
    base_timeouts: Timeouts,
    env: Env<'_>,
) -> Result<ProviderConfig, ConfigError> {
    let at = |field: &str| format!("providers[{i}].{field}");
    if !is_identifier(&p.id) {
        return Err(ConfigError::invalid(
            at("id"),
            format!(
                "`{}` must be 1-64 characters of letters, digits, `-`, `_` or `.`",
                p.id
            ),
        ));
    }
    let kind = ProviderKind::parse(&p.kind).ok_or_else(|| {
        let known: Vec<&str> = ProviderKind::ALL.iter().map(|(n, _)| *n).collect();
        ConfigError::invalid(
            at("type"),
            format!(
                "unknown provider type `{}`; expected one of: {}",
                p.kind,
                known.join(", ")
            ),
        )
    })?;
    let base_url = match &p.base_url {
        Some(url) => {
            let url = resolve_env(&at("base_url"), url, env)?;
            check_url(&at("base_url"), &url)?;
            Some(url.trim_end_matches('/').to_owned())
        }
        None if matches!(kind, ProviderKind::Azure) => {
            return Err(ConfigError::invalid(
                at("base_url"),
                "required for type `azure` (https://RESOURCE.openai.azure.com)",
            ))
        }
        None => None,
    };
    let api_key = match &p.api_key {
        Some(value) => Some(Secret::new(resolve_env(&at("api_key"), value, env)?)),
        None => None,
    };
    let jurisdiction = parse_jurisdiction(&at("jurisdiction"), p.jurisdiction.as_deref())?;
    let retention = parse_retention(&at("retention"), p.retention.as_deref())?;
    let hosting = parse_hosting(&at("hosting"), p.hosting.as_deref())?;
    let headers = parse_headers(&format!("providers[{i}].headers"), &p.headers, env)?;
    let tls_ca_file = match &p.tls_ca_file {
        Some(path) => {
            let path = std::path::PathBuf::from(resolve_env(&at("tls_ca_file"), path, env)?);
            if let Err(err) = std::fs::metadata(&path) {
                return Err(ConfigError::invalid(
                    at("tls_ca_file"),
                    format!("cannot read {}: {err}", path.display()),
                ));
            }
            Some(path)
        }
        None => None,
    };
    let file_uri_prefixes = file_uri_prefixes(&at("file_uri_prefixes"), &p.file_uri_prefixes)?;
    let tenant_file_uri_prefixes = p
        .tenant_file_uri_prefixes
        .iter()
        .map(|(tenant, narrower)| {
            let key = at(&format!("tenant_file_uri_prefixes.{tenant}"));
            let narrower = self::file_uri_prefixes(&key, narrower)?;
            for (n, prefix) in narrower.iter().enumerate() {
                if !file_uri_prefixes.iter().any(|wide| prefix.starts_with(wide.as_str())) {
                    return Err(ConfigError::invalid(
                        format!("{key}[{n}]"),
                        format!("`{prefix}` is not inside any of this provider's `file_uri_prefixes`: a tenant's list can only narrow it"),
                    ));
                }
            }
            Ok((tenant.clone(), narrower))
        })
        .collect::<Result<_, ConfigError>>()?;
    let local = local(i, p, kind, env)?;
    let aws = aws(i, p, kind, env)?;
    let gcp = gcp(i, p, kind, env)?;
    let hosting = match (kind, &p.hosting) {
        (ProviderKind::Local, None) => Hosting::Embedded,
        _ => hosting,
    };
    let jurisdiction = match (kind, &p.jurisdiction) {
        // Data sent to the embedded engine never leaves this machine.
        (ProviderKind::Local, None) => Jurisdiction("LOCAL".to_owned()),
        _ => jurisdiction,
    };
    Ok(ProviderConfig {
        local,
        aws,
        gcp,
        id: p.id.clone(),
        tls_ca_file,
        file_uri_prefixes,
        tenant_file_uri_prefixes,
        kind,
        base_url,
        api_key,
        jurisdiction,
        jurisdiction_set: p.jurisdiction.is_some(),
        hosting,
        operator: p.operator.clone(),
        retention,
        api_version: p.api_version.clone(),
        headers,
        timeouts: timeouts(&at("timeouts"), p.timeouts.as_ref(), base_timeouts)?,
    })
}

/// The `type = "vertex"` settings; they are errors on any other type.
fn gcp(
    i: usize,
    p: &RawProvider,
    kind: ProviderKind,
    env: Env<'_>,
) -> Result<Option<GcpConfig>, ConfigError> {
    let at = |field: &str| format!("providers[{i}].{field}");
    let fields = [
        ("project", &p.project),
        ("location", &p.location),
        ("credentials_file", &p.credentials_file),
    ];
    if kind != ProviderKind::Vertex {
        if let Some((field, _)) = fields.iter().find(|(_, v)| v.is_some()) {
            return Err(ConfigError::invalid(
                at(field),
                "only applies to `type = \"vertex\"` providers",
            ));
        }
        return Ok(None);
    }
    if p.api_key.is_some() {
        return Err(ConfigError::invalid(
            at("api_key"),
            "Vertex AI takes Google Cloud credentials: use credentials_file, or leave it out for Application Default Credentials",
        ));
    }
    let resolve = |field: &str,
                   value: &Option<String>,
                   fallback: &str|
     -> Result<String, ConfigError> {
        let value = match value {
            Some(v) => resolve_env(&at(field), v, env)?,
            None => env(fallback).unwrap_or_default(),
        };
        let valid = !value.is_empty()
            && value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(ConfigError::invalid(
                at(field),
                format!("required for type `vertex` unless {fallback} is set: lower-case letters, digits and `-`"),
            ));
        }
        Ok(value)
    };
    let project = resolve("project", &p.project, "GOOGLE_CLOUD_PROJECT")?;
    let location = resolve("location", &p.location, "GOOGLE_CLOUD_LOCATION")?;
    let credentials_file = match &p.credentials_file {
        Some(path) => {
            let path = std::path::PathBuf::from(resolve_env(&at("credentials_file"), path, env)?);
            if let Err(err) = std::fs::metadata(&path) {
                return Err(ConfigError::invalid(
                    at("credentials_file"),
                    format!("cannot read {}: {err}", path.display()),
                ));
            }
            Some(path)
        }
        None => None,
    };
    Ok(Some(GcpConfig {
        project,
        location,
        credentials_file,
    }))
}

/// The `type = "bedrock"` settings; they are errors on any other type.
fn aws(
    i: usize,
    p: &RawProvider,
    kind: ProviderKind,
    env: Env<'_>,
) -> Result<Option<AwsConfig>, ConfigError> {
    let at = |field: &str| format!("providers[{i}].{field}");
    let fields = [
        ("region", &p.region),
        ("aws_access_key_id", &p.aws_access_key_id),
        ("aws_secret_access_key", &p.aws_secret_access_key),
        ("aws_session_token", &p.aws_session_token),
        ("aws_profile", &p.aws_profile),
    ];
    if kind != ProviderKind::Bedrock {
        if let Some((field, _)) = fields.iter().find(|(_, v)| v.is_some()) {
            return Err(ConfigError::invalid(
                at(field),
                "only applies to `type = \"bedrock\"` providers",
            ));
        }
        return Ok(None);
    }
    if p.api_key.is_some() {
        return Err(ConfigError::invalid(
            at("api_key"),
            "Bedrock requests are signed with AWS keys: use aws_access_key_id and aws_secret_access_key, or leave both out for the AWS credential chain",
        ));
    }
    let resolve = |field: &str, value: &Option<String>| -> Result<Option<String>, ConfigError> {
        value
            .as_deref()
            .map(|v| resolve_env(&at(field), v, env))
            .transpose()
    };
    let region = match resolve("region", &p.region)? {
        Some(r) => r,
        None => env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                ConfigError::invalid(
                    at("region"),
                    "required for type `bedrock` (eu-central-1, us-east-1, ...) unless AWS_REGION is set",
                )
            })?,
    };
    let valid_region = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid_region {
        return Err(ConfigError::invalid(
            at("region"),
            format!("`{region}` is not an AWS region name such as eu-central-1"),
        ));
    }
    let key_id = resolve("aws_access_key_id", &p.aws_access_key_id)?;
    let secret = resolve("aws_secret_access_key", &p.aws_secret_access_key)?;
    let token = resolve("aws_session_token", &p.aws_session_token)?;
    let static_keys = match (key_id, secret) {
        (Some(access_key_id), Some(secret)) => Some(AwsKeys {
            access_key_id,
            secret_access_key: Secret::new(secret),
            session_token: token.map(Secret::new),
        }),
        (None, None) if token.is_none() => None,
        (None, None) => {
            return Err(ConfigError::invalid(
                at("aws_session_token"),
                "needs aws_access_key_id and aws_secret_access_key",
            ))
        }
        (Some(_), None) => {
            return Err(ConfigError::invalid(
                at("aws_secret_access_key"),
                "required with aws_access_key_id",
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::invalid(
                at("aws_access_key_id"),
                "required with aws_secret_access_key",
            ))
        }
    };
    if static_keys.is_some() && p.aws_profile.is_some() {
        return Err(ConfigError::invalid(
            at("aws_profile"),
            "give either static keys or a profile, not both",
        ));
    }
    Ok(Some(AwsConfig {
        region,
        static_keys,
        profile: resolve("aws_profile", &p.aws_profile)?,
    }))
}

/// The `type = "local"` settings; they are errors on any other type.
fn local(
    i: usize,
    p: &RawProvider,
    kind: ProviderKind,
    env: Env<'_>,
) -> Result<Option<LocalConfig>, ConfigError> {
    let at = |field: &str| format!("providers[{i}].{field}");
    if kind != ProviderKind::Local {
        let stray = [
            ("path", p.path.is_some()),
            ("threads", p.threads.is_some()),
            ("parallel", p.parallel.is_some()),
            ("context_size", p.context_size.is_some()),
            ("queue", p.queue.is_some()),
        ];
        if let Some((field, _)) = stray.iter().find(|(_, set)| *set) {
            return Err(ConfigError::invalid(
                at(field),
                "only applies to `type = \"local\"` providers",
            ));
        }
        return Ok(None);
    }
    for (field, set) in [
        ("base_url", p.base_url.is_some()),
        ("api_key", p.api_key.is_some()),
    ] {
        if set {
            return Err(ConfigError::invalid(
                at(field),
                "a local provider runs in this process; remove it",
            ));
        }
    }
    let Some(path) = &p.path else {
        return Err(ConfigError::invalid(
            at("path"),
            "required for type `local`: a GGUF file, or a sentence-transformers folder for embeddings",
        ));
    };
    let path = std::path::PathBuf::from(resolve_env(&at("path"), path, env)?);
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() && !path.join("config.json").is_file() => {
            return Err(ConfigError::invalid(
                at("path"),
                format!("{} is a folder without config.json; expected a sentence-transformers model folder", path.display()),
            ))
        }
        Ok(_) => {}
        Err(err) => {
            return Err(ConfigError::invalid(at("path"), format!("cannot read {}: {err}", path.display())))
        }
    }
    let positive =
        |field: &str, v: Option<u32>, default: u32, max: u32| -> Result<u32, ConfigError> {
            match v {
                None => Ok(default),
                Some(n) if (1..=max).contains(&n) => Ok(n),
                Some(n) => Err(ConfigError::invalid(
                    at(field),
                    format!("{n} is out of range (1..={max})"),
                )),
            }
        };
    Ok(Some(LocalConfig {
        path,
        threads: p
            .threads
            .map(|t| positive("threads", Some(t), 1, 1024))
            .transpose()?,
        parallel: positive("parallel", p.parallel, LocalConfig::DEFAULT_PARALLEL, 256)?,
        context_size: positive(
            "context_size",
            p.context_size,
            LocalConfig::DEFAULT_CONTEXT,
            1 << 20,
        )?,
        queue: positive("queue", p.queue, LocalConfig::DEFAULT_QUEUE, 1 << 16)?,
    }))
}

/// `file_uri_prefixes`: each a URI with a scheme and something after it, ending with `/`.
fn file_uri_prefixes(key: &str, prefixes: &[String]) -> Result<Vec<String>, ConfigError> {
    prefixes
        .iter()
        .enumerate()
        .map(|(n, prefix)| {
            let well_formed = prefix
                .split_once("://")
                .is_some_and(|(scheme, rest)| !scheme.is_empty() && rest.len() > 1)
                && prefix.ends_with('/');
            if well_formed {
                Ok(prefix.clone())
            } else {
                Err(ConfigError::invalid(
                    format!("{key}[{n}]"),
                    format!("`{prefix}` must be a URI prefix with a scheme that ends with `/` (e.g. `gs://bucket/shared/`)"),
                ))
            }
        })
        .collect()
}
