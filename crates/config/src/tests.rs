use super::*;

const EXAMPLE: &str = r#"
listen = "127.0.0.1:4000"

[[providers]]
id = "mock"
type = "openai"                      # OpenAI-compatible wire format
base_url = "http://127.0.0.1:18080/v1"
api_key = "${MOCK_API_KEY}"          # read from the environment at start
jurisdiction = "EU"                  # where it runs; used by later policy work
hosting = "cloud"                    # cloud | on-prem | embedded

[[models]]
name = "bench-model"                 # what clients send as `model`
route = [{ provider = "mock", model = "gpt-4o-mini" }]
"#;

fn env_with_key(name: &str) -> Option<String> {
    (name == "MOCK_API_KEY").then(|| "sk-test-123".to_owned())
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn invalid_key(text: &str) -> String {
    match load_str(text, &env_with_key) {
        Err(ConfigError::Invalid { key, .. }) => key,
        other => format!("unexpected: {other:?}"),
    }
}

#[test]
fn issue_example_loads_as_written() {
    let config = load_str(EXAMPLE, &env_with_key).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:4000");
    assert_eq!(config.providers.len(), 1);
    let p = &config.providers[0];
    assert_eq!(p.kind, ProviderKind::OpenAi);
    assert_eq!(p.base_url.as_deref(), Some("http://127.0.0.1:18080/v1"));
    assert_eq!(p.api_key.as_ref().unwrap().expose(), "sk-test-123");
    assert_eq!(p.jurisdiction.0, "EU");
    assert_eq!(config.models[0].name, "bench-model");
    assert_eq!(config.models[0].route[0].model, "gpt-4o-mini");
    assert_eq!(config.models[0].route[0].provider, 0);
}

#[test]
fn missing_env_var_names_key_and_variable_not_value() {
    let err = load_str(EXAMPLE, &no_env).unwrap_err();
    assert_eq!(err.key(), Some("providers[0].api_key"));
    assert!(err.to_string().contains("MOCK_API_KEY"), "{err}");
}

#[test]
fn unknown_keys_are_errors_with_exact_path() {
    let text = EXAMPLE.replace("base_url =", "base_urll =");
    assert_eq!(invalid_key(&text), "providers[0].base_urll");
    let text = format!("lisen = \"x\"\n{EXAMPLE}");
    assert_eq!(invalid_key(&text), "lisen");
    let text = EXAMPLE.replace("model = \"gpt-4o-mini\"", "model = \"m\", weigth = 2");
    assert_eq!(invalid_key(&text), "models[0].route[0].weigth");
}

#[test]
fn semantic_errors_name_the_key() {
    assert_eq!(
        invalid_key(&EXAMPLE.replace("type = \"openai\"", "type = \"opneai\"")),
        "providers[0].type"
    );
    assert_eq!(
        invalid_key(&EXAMPLE.replace("provider = \"mock\"", "provider = \"nope\"")),
        "models[0].route[0].provider"
    );
    assert_eq!(
        invalid_key(&EXAMPLE.replace("127.0.0.1:4000", "localhost")),
        "listen"
    );
    assert_eq!(
        invalid_key(&EXAMPLE.replace("http://127.0.0.1:18080/v1", "ftp://x")),
        "providers[0].base_url"
    );
    assert_eq!(
        invalid_key(&EXAMPLE.replace("hosting = \"cloud\"", "hosting = \"moon\"")),
        "providers[0].hosting"
    );
    assert_eq!(
        invalid_key(&EXAMPLE.replace("jurisdiction = \"EU\"", "jurisdiction = \"eu\"")),
        "providers[0].jurisdiction"
    );
    let dup = format!(
        "{EXAMPLE}\n[[models]]\nname = \"bench-model\"\nroute = [{{ provider = \"mock\", model = \"x\" }}]\n"
    );
    assert_eq!(invalid_key(&dup), "models[1].name");
}

#[test]
fn wrong_types_name_the_key() {
    let text = EXAMPLE.replace("listen = \"127.0.0.1:4000\"", "listen = 4000");
    assert_eq!(invalid_key(&text), "listen");
    let text = format!("[timeouts]\nconnect_s = -1\n{EXAMPLE}");
    let text = text.replacen("listen = \"127.0.0.1:4000\"\n", "", 1);
    assert_eq!(invalid_key(&text), "timeouts.connect_s");
}

#[test]
fn secrets_do_not_print() {
    let config = load_str(EXAMPLE, &env_with_key).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("sk-test-123"), "{debug}");
}

#[test]
fn empty_file_is_a_valid_config_with_defaults() {
    let config = load_str("", &no_env).unwrap();
    assert_eq!(config.listen.to_string(), Config::DEFAULT_LISTEN);
    assert!(config.models.is_empty());
}

#[test]
fn azure_needs_base_url() {
    let text = "[[providers]]\nid = \"az\"\ntype = \"azure\"\n";
    assert_eq!(invalid_key(text), "providers[0].base_url");
}

#[test]
fn tls_ca_file_must_exist() {
    let text = EXAMPLE.replace(
        "hosting = \"cloud\"",
        "hosting = \"cloud\"\ntls_ca_file = \"/nonexistent/ca.pem\"",
    );
    assert_eq!(invalid_key(&text), "providers[0].tls_ca_file");
}

fn local(extra: &str) -> String {
    format!(
        "[[providers]]\nid = \"l\"\ntype = \"local\"\n{extra}\n[[models]]\nname = \"m\"\nroute = [{{ provider = \"l\", model = \"x\" }}]\n"
    )
}

#[test]
fn local_providers_need_an_existing_path_and_default_to_local_jurisdiction() {
    let file = std::env::temp_dir().join(format!("switchyard-config-{}.gguf", std::process::id()));
    std::fs::write(&file, b"GGUF").unwrap();
    let config = load_str(
        &local(&format!("path = \"{}\"\nparallel = 2", file.display())),
        &no_env,
    )
    .unwrap();
    let p = &config.providers[0];
    assert_eq!(p.kind, ProviderKind::Local);
    assert_eq!(p.jurisdiction.0, "LOCAL");
    assert_eq!(p.hosting, switchyard_types::Hosting::Embedded);
    let l = p.local.as_ref().unwrap();
    assert_eq!((l.parallel, l.context_size, l.queue), (2, 4096, 64));
    assert!(!l.is_embedding());
    assert_eq!(
        invalid_key(&local(&format!(
            "path = \"{}\"\nparallel = 0",
            file.display()
        ))),
        "providers[0].parallel"
    );
    let _ = std::fs::remove_file(&file);

    assert_eq!(invalid_key(&local("")), "providers[0].path");
    assert_eq!(
        invalid_key(&local("path = \"/nonexistent/m.gguf\"")),
        "providers[0].path"
    );
    assert_eq!(invalid_key(&local("path = \"/tmp\"")), "providers[0].path");
    assert_eq!(
        invalid_key(&local("path = \"/tmp\"\nbase_url = \"http://x\"")),
        "providers[0].base_url"
    );
}

#[test]
fn local_settings_on_other_providers_are_errors() {
    let text = EXAMPLE.replace("hosting = \"cloud\"", "hosting = \"cloud\"\nparallel = 4");
    assert_eq!(invalid_key(&text), "providers[0].parallel");
}

fn bedrock(extra: &str) -> String {
    format!("[[providers]]\nid = \"b\"\ntype = \"bedrock\"\n{extra}\n")
}

#[test]
fn bedrock_needs_a_region_and_whole_key_pairs() {
    let aws_env = |name: &str| match name {
        "AWS_REGION" => Some("eu-west-3".to_owned()),
        "SECRET" => Some("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned()),
        _ => None,
    };
    let config = load_str(
        &bedrock("region = \"eu-central-1\"\naws_access_key_id = \"AKID\"\naws_secret_access_key = \"${SECRET}\""),
        &aws_env,
    )
    .unwrap();
    let aws = config.providers[0].aws.as_ref().unwrap();
    assert_eq!(aws.region, "eu-central-1");
    let keys = aws.static_keys.as_ref().unwrap();
    assert_eq!(keys.access_key_id, "AKID");
    assert_eq!(
        keys.secret_access_key.expose(),
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    );
    assert!(
        !format!("{config:?}").contains("EXAMPLEKEY"),
        "the secret never prints"
    );

    // The region falls back to AWS_REGION; no keys means the AWS credential chain.
    let config = load_str(&bedrock("aws_profile = \"prod\""), &aws_env).unwrap();
    let aws = config.providers[0].aws.as_ref().unwrap();
    assert_eq!(aws.region, "eu-west-3");
    assert!(aws.static_keys.is_none());
    assert_eq!(aws.profile.as_deref(), Some("prod"));

    let bad = |extra: &str| match load_str(&bedrock(extra), &no_env) {
        Err(ConfigError::Invalid { key, .. }) => key,
        other => format!("unexpected: {other:?}"),
    };
    assert_eq!(bad(""), "providers[0].region");
    assert_eq!(bad("region = \"EU Central\""), "providers[0].region");
    assert_eq!(
        bad("region = \"eu-central-1\"\naws_access_key_id = \"AKID\""),
        "providers[0].aws_secret_access_key"
    );
    assert_eq!(
        bad("region = \"eu-central-1\"\naws_session_token = \"t\""),
        "providers[0].aws_session_token"
    );
    assert_eq!(
        bad("region = \"eu-central-1\"\napi_key = \"sk\""),
        "providers[0].api_key"
    );
    let text = EXAMPLE.replace(
        "hosting = \"cloud\"",
        "hosting = \"cloud\"\nregion = \"eu-central-1\"",
    );
    assert_eq!(
        invalid_key(&text),
        "providers[0].region",
        "AWS settings on other types"
    );
}

#[test]
fn media_fetching_has_safe_defaults_and_checked_limits() {
    let config = load_str("", &no_env).unwrap();
    assert_eq!(config.media, MediaConfig::default());
    assert!(!config.media.allow_private_networks);
    let config = load_str(
        "[media]\nmax_bytes = 1048576\ntimeout_s = 2.5\nallow_private_networks = true\n",
        &no_env,
    )
    .unwrap();
    assert_eq!(config.media.max_bytes, 1_048_576);
    assert_eq!(config.media.timeout, std::time::Duration::from_millis(2500));
    assert!(config.media.allow_private_networks);
    assert_eq!(invalid_key("[media]\nmax_bytes = 0\n"), "media.max_bytes");
    assert_eq!(invalid_key("[media]\ntimeout_s = -1\n"), "media.timeout_s");
    assert_eq!(invalid_key("[media]\nfollow = true\n"), "media.follow");
    let config = load_str(
        "[media]\nmax_request_bytes = 4096\nmax_in_flight_bytes = 8192\nmax_concurrent_fetches = 2\n",
        &no_env,
    )
    .unwrap();
    assert_eq!(config.media.max_request_bytes, 4096);
    assert_eq!(config.media.max_in_flight_bytes, 8192);
    assert_eq!(config.media.max_concurrent_fetches, 2);
    assert_eq!(
        invalid_key("[media]\nmax_request_bytes = 0\n"),
        "media.max_request_bytes"
    );
    assert_eq!(
        invalid_key("[media]\nmax_concurrent_fetches = 0\n"),
        "media.max_concurrent_fetches"
    );
}

#[test]
fn a_tenants_file_uri_prefixes_only_narrow_the_providers() {
    let provider = |tenants: &str| {
        format!("[[providers]]\nid = \"g\"\ntype = \"gemini\"\napi_key = \"k\"\nfile_uri_prefixes = [\"gs://corp/\"]\n[providers.tenant_file_uri_prefixes]\n{tenants}\n")
    };
    let config = load_str(&provider("acme = [\"gs://corp/acme/\"]"), &no_env).unwrap();
    assert_eq!(
        config.providers[0].tenant_file_uri_prefixes["acme"],
        vec!["gs://corp/acme/".to_owned()]
    );
    assert_eq!(
        invalid_key(&provider("acme = [\"gs://other/acme/\"]")),
        "providers[0].tenant_file_uri_prefixes.acme[0]"
    );
    assert_eq!(
        invalid_key(&provider("acme = [\"gs://corp/acme\"]")),
        "providers[0].tenant_file_uri_prefixes.acme[0]"
    );
}

#[test]
fn file_uri_prefixes_must_end_with_a_slash() {
    let provider = |prefixes: &str| {
        format!("[[providers]]\nid = \"g\"\ntype = \"gemini\"\napi_key = \"k\"\nfile_uri_prefixes = {prefixes}\n")
    };
    let config = load_str(&provider("[\"gs://shared-bucket/docs/\"]"), &no_env).unwrap();
    assert_eq!(
        config.providers[0].file_uri_prefixes,
        vec!["gs://shared-bucket/docs/".to_owned()]
    );
    for bad in ["[\"gs://bucket\"]", "[\"bucket/\"]", "[\"gs:///\"]"] {
        assert_eq!(
            invalid_key(&provider(bad)),
            "providers[0].file_uri_prefixes[0]",
            "{bad}"
        );
    }
}

#[test]
fn vertex_needs_a_project_and_location() {
    let vertex = |extra: &str| format!("[[providers]]\nid = \"v\"\ntype = \"vertex\"\n{extra}\n");
    let env = |name: &str| match name {
        "GOOGLE_CLOUD_PROJECT" => Some("acme-ai".to_owned()),
        "GOOGLE_CLOUD_LOCATION" => Some("europe-west4".to_owned()),
        _ => None,
    };
    let config = load_str(&vertex(""), &env).unwrap();
    let gcp = config.providers[0].gcp.as_ref().unwrap();
    assert_eq!(
        (gcp.project.as_str(), gcp.location.as_str()),
        ("acme-ai", "europe-west4")
    );
    assert!(gcp.credentials_file.is_none());
    let config = load_str(&vertex("project = \"other\"\nlocation = \"global\""), &env).unwrap();
    assert_eq!(config.providers[0].gcp.as_ref().unwrap().location, "global");

    let bad = |extra: &str| match load_str(&vertex(extra), &no_env) {
        Err(ConfigError::Invalid { key, .. }) => key,
        other => format!("unexpected: {other:?}"),
    };
    assert_eq!(bad("location = \"europe-west4\""), "providers[0].project");
    assert_eq!(bad("project = \"p\""), "providers[0].location");
    assert_eq!(
        bad("project = \"P Q\"\nlocation = \"l\""),
        "providers[0].project"
    );
    assert_eq!(
        bad("project = \"p\"\nlocation = \"l\"\ncredentials_file = \"/nonexistent.json\""),
        "providers[0].credentials_file"
    );
    assert_eq!(
        bad("project = \"p\"\nlocation = \"l\"\napi_key = \"k\""),
        "providers[0].api_key"
    );
    let text = EXAMPLE.replace(
        "hosting = \"cloud\"",
        "hosting = \"cloud\"\nproject = \"p\"",
    );
    assert_eq!(
        invalid_key(&text),
        "providers[0].project",
        "Vertex settings on other types"
    );
}

#[test]
fn routes_take_a_strategy_weights_and_catalog_overrides() {
    let text = r#"
[routing]
breaker_failures = 3
breaker_open_s = 10
health_check_interval_s = 15

[[providers]]
id = "a"
type = "openai"
base_url = "http://127.0.0.1:9/v1"

[[models]]
name = "m"
strategy = "weighted"
route = [
  { provider = "a", model = "x", weight = 3, capabilities = { vision = true, context_window = 8192 }, price = { input = 0.5, output = 1.5 }, tier = 2 },
  { provider = "a", model = "y" },
]
"#;
    let config = load_str(text, &no_env).unwrap();
    assert_eq!(config.routing.breaker_failures, 3);
    assert_eq!(
        config.routing.health_check,
        Some(std::time::Duration::from_secs(15))
    );
    let off = text.replace(
        "health_check_interval_s = 15",
        "health_check_interval_s = 0",
    );
    assert_eq!(load_str(&off, &no_env).unwrap().routing.health_check, None);
    let m = &config.models[0];
    assert_eq!(m.strategy, RouteStrategy::Weighted);
    assert_eq!((m.route[0].weight, m.route[1].weight), (3, 1));
    assert_eq!(m.route[0].capabilities.vision, Some(true));
    assert_eq!(m.route[0].capabilities.tools, None);
    let price = m.route[0].price.unwrap();
    assert_eq!((price.input, price.cached_input), (0.5, 0.5));
    assert_eq!(m.route[0].tier, Some(2));

    let bad = |from: &str, to: &str| invalid_key(&text.replace(from, to));
    assert_eq!(bad("\"weighted\"", "\"fastest\""), "models[0].strategy");
    assert_eq!(bad("tier = 2", "tier = 9"), "models[0].route[0].tier");
    assert_eq!(
        bad("input = 0.5", "input = -1.0"),
        "models[0].route[0].price"
    );
    assert_eq!(
        bad("vision = true", "sight = true"),
        "models[0].route[0].capabilities.sight"
    );
    assert_eq!(
        bad("breaker_failures = 3", "breaker_failures = 0"),
        "routing.breaker_failures"
    );
    assert_eq!(
        bad(
            "health_check_interval_s = 15",
            "health_check_interval_s = 0.01"
        ),
        "routing.health_check_interval_s"
    );
    assert!(load_str(&text.replace("weight = 3, ", "weight = 0, "), &no_env).is_ok());
    let all_zero = text
        .replace("weight = 3, ", "weight = 0, ")
        .replace("model = \"y\" }", "model = \"y\", weight = 0 }");
    assert_eq!(invalid_key(&all_zero), "models[0].route");
}

#[test]
fn auto_is_named_and_tiered() {
    let base = EXAMPLE.to_owned();
    let config = load_str(&format!("{base}\n[auto]\n"), &env_with_key).unwrap();
    assert_eq!(
        config.auto,
        Some(AutoConfig {
            name: "auto".into(),
            min_tier: 1
        })
    );
    let config = load_str(
        &format!("{base}\n[auto]\nname = \"best\"\nmin_tier = 4\n"),
        &env_with_key,
    )
    .unwrap();
    assert_eq!(config.auto.unwrap().min_tier, 4);
    assert_eq!(
        invalid_key(&format!("{base}\n[auto]\nmin_tier = 9\n")),
        "auto.min_tier"
    );
    assert_eq!(
        invalid_key(&format!("{base}\n[auto]\nname = \"bench-model\"\n")),
        "auto.name"
    );
    assert_eq!(load_str(&base, &env_with_key).unwrap().auto, None);
}

#[test]
fn the_store_url_comes_from_the_environment_and_is_checked() {
    let text = "[store]\nurl = \"${DATABASE_URL}\"\n";
    let env = |name: &str| {
        (name == "DATABASE_URL")
            .then(|| "postgres://sy:s3cret-pw@db.internal/switchyard".to_owned())
    };
    let config = load_str(text, &env).unwrap();
    let url = config.store_url.as_ref().unwrap();
    assert_eq!(
        url.expose(),
        "postgres://sy:s3cret-pw@db.internal/switchyard"
    );
    assert!(!format!("{config:?}").contains("s3cret-pw"));
    assert_eq!(load_str("", &no_env).unwrap().store_url, None);
    assert_eq!(invalid_key("[store]\nurl = \"mysql://x\"\n"), "store.url");
    assert_eq!(invalid_key("[store]\nadress = \"x\"\n"), "store.adress");
}

#[test]
fn the_admin_api_has_its_own_listener() {
    let config = load_str("", &no_env).unwrap();
    assert_eq!(config.admin_listen.to_string(), "127.0.0.1:4001");
    let config = load_str("[admin]\nlisten = \"127.0.0.1:9400\"\n", &no_env).unwrap();
    assert_eq!(config.admin_listen.port(), 9400);
    assert_eq!(
        invalid_key("listen = \"127.0.0.1:9400\"\n[admin]\nlisten = \"127.0.0.1:9400\"\n"),
        "admin.listen"
    );
    assert_eq!(
        invalid_key("[admin]\nlisten = \"everywhere\"\n"),
        "admin.listen"
    );
}

#[test]
fn offline_mode_allows_only_the_embedded_engine_and_private_addresses() {
    let provider = |extra: &str| {
        format!("offline = true\n[[providers]]\nid = \"p\"\ntype = \"openai\"\napi_key = \"k\"\n{extra}")
    };
    assert_eq!(invalid_key(&provider("")), "providers[0]");
    assert_eq!(
        invalid_key(&provider("base_url = \"https://api.mistral.ai/v1\"")),
        "providers[0]"
    );
    assert_eq!(
        invalid_key(&provider("base_url = \"http://8.8.8.8:8000/v1\"")),
        "providers[0]"
    );
    for url in [
        "http://127.0.0.1:8000/v1",
        "http://localhost:11434",
        "http://10.1.2.3:8000/v1",
        "http://[::1]:8000/v1",
    ] {
        let config = load_str(&provider(&format!("base_url = \"{url}\"")), &no_env).unwrap();
        assert!(config.offline && config.media.offline, "{url}");
    }
    let err = load_str(&provider(""), &no_env).unwrap_err().to_string();
    assert!(
        err.contains("offline = true") && err.contains("public API"),
        "{err}"
    );
}

#[test]
fn pii_settings_are_validated_with_their_key() {
    assert_eq!(
        invalid_key("[[policies]]\nname = \"a\"\npii = \"hide\"\n"),
        "policies[0].pii"
    );
    assert_eq!(
        invalid_key("[[policies]]\nname = \"a\"\npii = \"redact\"\npii_kinds = [\"dna\"]\n"),
        "policies[0].pii_kinds"
    );
    assert_eq!(
        invalid_key("[[policies]]\nname = \"a\"\npii_kinds = [\"email\"]\n"),
        "policies[0].pii_kinds"
    );
    assert_eq!(
        invalid_key("[[pii_patterns]]\nname = \"ok\"\nregex = \"x\"\n\n[[pii_patterns]]\nname = \"bad\"\nregex = \"(\"\n"),
        "pii_patterns[1].regex"
    );
    let config = load_str(
        "[[pii_patterns]]\nname = \"badge\"\nregex = 'B-\\d{4}'\n\n[[policies]]\nname = \"a\"\npii = \"mask-and-restore\"\npii_kinds = [\"badge\", \"email\"]\n",
        &no_env,
    )
    .unwrap();
    assert_eq!(
        config.policies[0].pii.mode,
        switchyard_policy::pii::Mode::MaskAndRestore
    );
}

#[test]
fn exporters_are_validated_with_their_key_and_tagged() {
    let exporter = |extra: &str| format!("[[exporters]]\nname = \"otel\"\n{extra}");
    assert_eq!(
        invalid_key(&exporter("endpoint = \"otel:4318\"")),
        "exporters[0].endpoint"
    );
    assert_eq!(
        invalid_key(&exporter("endpoint = \"http://o:4318\"\ntype = \"zipkin\"")),
        "exporters[0].type"
    );
    assert_eq!(
        invalid_key(&exporter(
            "endpoint = \"http://o:4318\"\nsignals = [\"metrics\"]"
        )),
        "exporters[0].signals"
    );
    assert_eq!(
        invalid_key(&exporter(
            "endpoint = \"http://o:4318\"\njurisdiction = \"Europe\""
        )),
        "exporters[0].jurisdiction"
    );
    assert_eq!(
        invalid_key(&exporter(
            "endpoint = \"http://o:4318\"\nheaders = { authorization = \"${NOPE}\" }"
        )),
        "exporters[0].headers.authorization"
    );
    assert_eq!(
        invalid_key(&format!(
            "{}\n{}",
            exporter("endpoint = \"http://a:4318\""),
            exporter("endpoint = \"http://b:4318\"")
        )),
        "exporters[1].name"
    );
    // Offline: only a collector on this machine or a private network.
    assert_eq!(
        invalid_key(&format!(
            "offline = true\n{}",
            exporter("endpoint = \"https://otel.example.com\"")
        )),
        "exporters[0].endpoint"
    );
    let config = load_str(
        &format!(
            "offline = true\n{}",
            exporter("endpoint = \"http://127.0.0.1:4318/\"\nsignals = [\"logs\"]")
        ),
        &no_env,
    )
    .unwrap();
    let e = &config.exporters[0];
    // On this machine: LOCAL unless tagged; trailing slash dropped; logs only.
    assert_eq!(
        (
            e.jurisdiction.0.as_str(),
            e.endpoint.as_str(),
            e.traces,
            e.logs
        ),
        ("LOCAL", "http://127.0.0.1:4318", false, true)
    );
    let config = load_str(
        &exporter("endpoint = \"https://otel.example.com\""),
        &no_env,
    )
    .unwrap();
    assert_eq!(config.exporters[0].jurisdiction.0, "UNKNOWN");
    assert!(config.exporters[0].traces && config.exporters[0].logs);
}

#[test]
fn the_cache_is_off_unless_enabled_and_its_limits_are_checked() {
    assert_eq!(load_str("", &no_env).unwrap().cache, None);
    assert_eq!(
        load_str("[cache]\nttl_s = 5\n", &no_env).unwrap().cache,
        None
    );
    let cache = load_str("[cache]\nenabled = true\n", &no_env)
        .unwrap()
        .cache
        .unwrap();
    assert_eq!(
        (cache.ttl.as_secs(), cache.max_entries, cache.max_bytes),
        (300, 10_000, 64 * 1024 * 1024)
    );
    assert_eq!(
        invalid_key("[cache]\nenabled = true\nttl_s = 0\n"),
        "cache.ttl_s"
    );
    assert_eq!(
        invalid_key("[cache]\nenabled = true\nmax_entries = 0\n"),
        "cache.max_entries"
    );
    assert_eq!(
        invalid_key("[cache]\nenabled = true\nmax_bytes = 10\n"),
        "cache.max_bytes"
    );
    assert!(load_str("[cache]\nenabled = true\nsize = 3\n", &no_env).is_err());
}
