//! E-mail addresses (found from their `@`) and IPv6 addresses (found from their colons).

use super::{Found, EMAIL, IP};

fn local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&c)
}

fn domain_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'.'
}

/// `local@domain.tld`: a local part of up to 64 characters, a domain of labels with a
/// final label of at least two letters.
pub(super) fn emails(text: &str, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    let mut from = 0usize;
    while let Some(at) = text[from..].find('@').map(|k| from + k) {
        from = at + 1;
        let mut start = at;
        while start > 0 && local_char(b[start - 1]) && at - start < 64 {
            start -= 1;
        }
        // Leading dots and quotes are punctuation, not address.
        while start < at && matches!(b[start], b'.' | b'\'' | b'`' | b'{' | b'|') {
            start += 1;
        }
        if start == at || b[at - 1] == b'.' {
            continue;
        }
        let mut end = at + 1;
        while end < b.len() && domain_char(b[end]) && end - at < 255 {
            end += 1;
        }
        // A sentence's full stop or a dash after the address is not part of it.
        while end > at + 1 && matches!(b[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let domain = &text[at + 1..end];
        let mut labels = domain.split('.');
        let count = domain.split('.').count();
        if count < 2 || labels.any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-')) {
            continue;
        }
        let tld = domain.rsplit('.').next().unwrap_or("");
        if tld.len() < 2 || !tld.bytes().all(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        out.push(Found {
            kind: EMAIL,
            start,
            end,
        });
        from = end;
    }
}

fn v6_char(c: u8) -> bool {
    c.is_ascii_hexdigit() || c == b':' || c == b'.'
}

/// IPv6 addresses: a run of hex digits, colons (and a dotted IPv4 tail) that parses as one
/// and has at least two colons.
pub(super) fn ipv6(text: &str, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    let mut from = 0usize;
    while let Some(colon) = text[from..].find(':').map(|k| from + k) {
        from = colon + 1;
        let next_ok = b
            .get(colon + 1)
            .is_some_and(|&c| c.is_ascii_hexdigit() || c == b':');
        let prev_ok = colon > 0 && (b[colon - 1].is_ascii_hexdigit() || b[colon - 1] == b':');
        if !next_ok && !prev_ok {
            continue;
        }
        let mut start = colon;
        while start > 0 && v6_char(b[start - 1]) {
            start -= 1;
        }
        let mut end = colon + 1;
        while end < b.len() && v6_char(b[end]) {
            end += 1;
        }
        while end > start && b[end - 1] == b'.' {
            end -= 1;
        }
        if (start > 0 && b[start - 1].is_ascii_alphanumeric())
            || (end < b.len() && b[end].is_ascii_alphanumeric())
        {
            from = end.max(from);
            continue;
        }
        let candidate = &text[start..end];
        if candidate.bytes().filter(|&c| c == b':').count() >= 2
            && candidate.bytes().any(|c| c.is_ascii_hexdigit())
            && candidate.parse::<std::net::Ipv6Addr>().is_ok()
        {
            out.push(Found {
                kind: IP,
                start,
                end,
            });
        }
        from = end.max(from);
    }
}
