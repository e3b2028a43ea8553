#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn kinds_of(detector: &Detector, text: &str) -> Vec<(String, String)> {
    detector
        .scan(text, detector.kinds(None).unwrap())
        .into_iter()
        .map(|f| {
            (
                detector.name(f.kind).to_owned(),
                text[f.start..f.end].to_owned(),
            )
        })
        .collect()
}

#[test]
fn finds_each_built_in_kind() {
    let d = Detector::default();
    let cases = [
        (
            "write to jane.doe+news@mail.example.co.uk.",
            "email",
            "jane.doe+news@mail.example.co.uk",
        ),
        ("call +44 20 7946 0958 today", "phone", "+44 20 7946 0958"),
        ("call +1 (415) 555-2671 today", "phone", "+1 (415) 555-2671"),
        ("call (415) 555-2671", "phone", "(415) 555-2671"),
        ("ring 030 12345678 please", "phone", "030 12345678"),
        (
            "IBAN DE89 3704 0044 0532 0130 00, thanks",
            "iban",
            "DE89 3704 0044 0532 0130 00",
        ),
        (
            "IBAN GB82WEST12345698765432",
            "iban",
            "GB82WEST12345698765432",
        ),
        (
            "card 4111 1111 1111 1111 expires",
            "card",
            "4111 1111 1111 1111",
        ),
        ("amex 3782-822463-10005.", "card", "3782-822463-10005"),
        ("from 192.168.10.24, then", "ip", "192.168.10.24"),
        (
            "from 2001:db8::8a2e:370:7334 then",
            "ip",
            "2001:db8::8a2e:370:7334",
        ),
        ("SSN 123-45-6789 on file", "us-ssn", "123-45-6789"),
        ("NI number AB 12 34 56 C", "uk-nino", "AB 12 34 56 C"),
    ];
    for (text, kind, value) in cases {
        assert_eq!(
            kinds_of(&d, text),
            vec![(kind.to_owned(), value.to_owned())],
            "{text}"
        );
    }
}

#[test]
fn checksums_are_checked() {
    let d = Detector::default();
    // One digit off: mod-97 and Luhn fail, so nothing is found as IBAN or card.
    assert!(kinds_of(&d, "IBAN DE89 3704 0044 0532 0130 01").is_empty());
    assert!(!kinds_of(&d, "card 4111 1111 1111 1112")
        .iter()
        .any(|(k, _)| k == "card"));
    assert!(kinds_of(&d, "IP 999.1.1.1 is not one").is_empty());
}

#[test]
fn ordinary_numbers_are_not_pii() {
    let d = Detector::default();
    for text in [
        "On 2024-03-15 at 14:30:45 the build 10.0.19045.2965 shipped.",
        "ISBN 978-3-16-148410-0 costs $1,299.99 (about 7 800 000 000 cents).",
        "Between 1990-2005 about 12.5% of 3,400 people moved; see pages 200-215.",
        "Read std::vec::Vec and John 3:16; scores were 3-1 and 2-2.",
        "Order 48213, SKU 12-3456-78, room 4B, 15.03.2024, 03/15/2024.",
    ] {
        assert_eq!(kinds_of(&d, text), vec![], "{text}");
    }
}

#[test]
fn mask_and_restore_round_trips_and_streams() {
    let d = Detector::default();
    let rule = Rule {
        mode: Mode::MaskAndRestore,
        kinds: d.kinds(None).unwrap(),
    };
    let mut vault = Vault::default();
    let text = "Mail a@b.de and c@d.fr, then a@b.de again; call +49 30 1234567.";
    let masked = vault.mask(&d, rule, text).unwrap();
    assert_eq!(
        masked,
        "Mail [EMAIL_1] and [EMAIL_2], then [EMAIL_1] again; call [PHONE_1]."
    );
    assert_eq!(vault.restore(&masked), text);
    // Split at every byte boundary, the streamed restoration gives the same text.
    for cut in 1..masked.len() {
        let (a, b) = masked.split_at(cut);
        let mut s = StreamRestorer::default();
        let mut out = s.push(&vault, a);
        out.push_str(&s.push(&vault, b));
        out.push_str(&s.finish(&vault));
        assert_eq!(out, text, "cut at {cut}");
    }
    // One character per delta.
    let mut s = StreamRestorer::default();
    let mut out = String::new();
    for ch in masked.chars() {
        out.push_str(&s.push(&vault, &ch.to_string()));
    }
    out.push_str(&s.finish(&vault));
    assert_eq!(out, text);
}

#[test]
fn redact_and_block() {
    let d = Detector::default();
    let kinds = d.kinds(Some(&["email".to_owned()])).unwrap();
    let mut vault = Vault::default();
    let redacted = vault.mask(
        &d,
        Rule {
            mode: Mode::Redact,
            kinds,
        },
        "x a@b.de +49 30 1234567",
    );
    assert_eq!(redacted.unwrap(), "x [REDACTED_EMAIL] +49 30 1234567");
    assert!(vault.is_empty(), "redaction keeps nothing to restore");
    let mut request = switchyard_types::ChatRequest {
        model: "m".into(),
        messages: vec![switchyard_types::Message::text(
            switchyard_types::Role::User,
            "mail a@b.de",
        )],
        ..serde_json::from_str(r#"{"model":"m","messages":[]}"#).unwrap()
    };
    let guarded = guard_chat(
        &d,
        Rule {
            mode: Mode::Block,
            kinds,
        },
        &mut request,
    );
    assert!(guarded.blocked);
    assert_eq!(request.messages[0].joined_text(), "mail a@b.de");
}

#[test]
fn custom_patterns_and_kind_names() {
    let d = Detector::new(&[IdSpec {
        name: "employee-id".into(),
        regex: r"\bEMP-\d{6}\b".into(),
    }])
    .unwrap();
    assert_eq!(
        kinds_of(&d, "badge EMP-123456 issued"),
        vec![("employee-id".to_owned(), "EMP-123456".to_owned())]
    );
    assert!(d.kinds(Some(&["nope".to_owned()])).is_err());
    assert!(Detector::new(&[IdSpec {
        name: "email".into(),
        regex: "x".into()
    }])
    .is_err());
    assert!(Detector::new(&[IdSpec {
        name: "bad".into(),
        regex: "(".into()
    }])
    .is_err());
    assert!(Detector::new(&[IdSpec {
        name: "empty".into(),
        regex: "a*".into()
    }])
    .is_err());
    // Opt-in presets with checksums.
    let all = d
        .kinds(Some(&[
            "es-dni".to_owned(),
            "nl-bsn".to_owned(),
            "fr-nir".to_owned(),
        ]))
        .unwrap();
    let found = |t: &str| d.scan(t, all).len();
    assert_eq!(found("DNI 12345678Z"), 1);
    assert_eq!(found("DNI 12345678A"), 0);
    assert_eq!(found("BSN 111222333"), 1);
    assert_eq!(found("BSN 111222334"), 0);
    assert_eq!(found("NIR 1 84 12 76 451 089 46"), 1);
    assert_eq!(found("NIR 1 84 12 76 451 089 47"), 0);
}

#[test]
fn merged_rules_take_the_strictest_mode() {
    let a = Rule {
        mode: Mode::MaskAndRestore,
        kinds: KindSet(1),
    };
    let b = Rule {
        mode: Mode::Redact,
        kinds: KindSet(2),
    };
    assert_eq!(
        a.merge(b),
        Rule {
            mode: Mode::Redact,
            kinds: KindSet(3)
        }
    );
    assert_eq!(a.merge(Rule::default()), a);
    assert_eq!(Rule::default().merge(b), b);
}

mod corpus;

#[test]
fn originals_go_back_into_tool_arguments_as_valid_json() {
    // A custom kind whose values hold a backslash and a quote.
    let d = Detector::new(&[IdSpec {
        name: "account".into(),
        regex: r#"ACC\\[a-z]+"[0-9]"#.into(),
    }])
    .unwrap();
    let rule = Rule {
        mode: Mode::MaskAndRestore,
        kinds: d.kinds(None).unwrap(),
    };
    let mut vault = Vault::default();
    let masked = vault.mask(&d, rule, r#"close ACC\jdoe"7 today"#).unwrap();
    assert_eq!(masked, "close [ACCOUNT_1] today");
    // The model puts the placeholder into a tool call's arguments.
    let args = r#"{"account":"[ACCOUNT_1]","note":"[x]"}"#;
    let restored = vault.restore_json(args).into_owned();
    let parsed: serde_json::Value = serde_json::from_str(&restored).unwrap();
    assert_eq!(parsed["account"], r#"ACC\jdoe"7"#);
    assert_eq!(parsed["note"], "[x]");
    // In text it goes back as it was.
    assert_eq!(vault.restore("[ACCOUNT_1]"), r#"ACC\jdoe"7"#);
    // Streamed arguments, split inside the placeholder: the same valid JSON.
    for cut in 1..args.len() {
        let mut restorer = StreamRestorer::for_json();
        let mut out = restorer.push(&vault, &args[..cut]);
        out.push_str(&restorer.push(&vault, &args[cut..]));
        out.push_str(&restorer.finish(&vault));
        assert_eq!(out, restored, "cut at {cut}");
    }
}

#[test]
fn a_finding_inside_json_arguments_is_kept_unescaped() {
    // In JSON text the value holds an escaped quote: `tel:a\"b` is `tel:a"b`.
    let d = Detector::new(&[IdSpec {
        name: "handle".into(),
        regex: r#"tel:[a-z]+\\"[a-z]+"#.into(),
    }])
    .unwrap();
    let rule = Rule {
        mode: Mode::MaskAndRestore,
        kinds: d.kinds(Some(&["handle".to_owned()])).unwrap(),
    };
    let mut vault = Vault::default();
    let masked = vault.mask_json(&d, rule, r#"{"to":"tel:a\"b"}"#).unwrap();
    assert_eq!(masked, r#"{"to":"[HANDLE_1]"}"#);
    // Back into text: the value itself; back into JSON: escaped again.
    assert_eq!(vault.restore("[HANDLE_1]"), r#"tel:a"b"#);
    assert_eq!(vault.restore_json(&masked), r#"{"to":"tel:a\"b"}"#);
}
