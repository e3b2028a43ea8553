//! Ledger rows as CSV (`switchyard usage --csv`, `GET /admin/usage?format=csv`) and exact
//! dollar amounts from nano-dollars.

use switchyard_store::ledger::LedgerRow;

/// `1.234567891` from 1,234,567,891 nano-dollars, exactly.
pub fn dollars(nano: i64) -> String {
    let sign = if nano < 0 { "-" } else { "" };
    let abs = nano.unsigned_abs();
    format!("{sign}{}.{:09}", abs / 1_000_000_000, abs % 1_000_000_000)
}

/// Unix ms as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn utc(ms: i64) -> String {
    switchyard_types::calendar::format_rfc3339(ms, true)
}

/// A CSV field, quoted when it needs to be; a leading `=`, `+`, `-` or `@` is prefixed with
/// `'` so that a spreadsheet never runs a model name as a formula.
fn field(value: Option<&str>) -> String {
    let Some(v) = value else {
        return String::new();
    };
    let v = if v.starts_with(['=', '+', '-', '@']) {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

pub const CSV_HEADER: &str = "request_id,time,tenant_id,key_id,model,deployment,provider,jurisdiction,input_tokens,output_tokens,cached_tokens,cost_usd,latency_ms,status\n";

/// The header and one line per row.
pub fn csv(rows: &[LedgerRow]) -> String {
    let mut out = String::from(CSV_HEADER);
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            field(Some(&r.request_id)),
            utc(r.at),
            field(r.tenant_id.as_deref()),
            field(r.key_id.as_deref()),
            field(Some(&r.model)),
            field(r.deployment.as_deref()),
            field(r.provider.as_deref()),
            field(r.jurisdiction.as_deref()),
            r.input_tokens,
            r.output_tokens,
            r.cached_tokens,
            dollars(r.cost_nano_usd),
            r.latency_ms,
            r.status
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(dollars(1_234_567_891), "1.234567891");
        assert_eq!(dollars(7), "0.000000007");
        assert_eq!(dollars(-7), "-0.000000007");
        assert_eq!(field(Some("a,b")), "\"a,b\"");
        assert_eq!(field(Some("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(field(Some("=1+1")), "'=1+1");
        let text = csv(&[LedgerRow {
            request_id: "req_1".into(),
            model: "chat".into(),
            cost_nano_usd: 7_200,
            status: 200,
            ..LedgerRow::default()
        }]);
        assert_eq!(
            text.lines().nth(1),
            Some("req_1,1970-01-01T00:00:00.000Z,,,chat,,,,0,0,0,0.000007200,0,200")
        );
    }
}
