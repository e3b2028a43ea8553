//! One pass over the bytes for everything made of digits: phone numbers, payment cards
//! (Luhn), IPv4 addresses, and IBANs (two letters, two check digits, mod-97).

use super::{Found, KindSet, CARD, IBAN, IP, PHONE};

/// A run of digits and the separators between them.
struct Run {
    end: usize,
    digits: u32,
    /// Digits per group, up to 8 groups tracked.
    groups: [u8; 8],
    group_count: usize,
    /// Separators seen (bit per kind: space, `-`, `.`, `/`, parentheses).
    seps: u8,
    plus: bool,
    paren: bool,
}

const SPACE: u8 = 1;
const DASH: u8 = 2;
const DOT: u8 = 4;
const SLASH: u8 = 8;
const PAREN: u8 = 16;

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

pub(super) fn scan(b: &[u8], kinds: KindSet, out: &mut Vec<Found>) {
    let numbers = kinds.has(PHONE) || kinds.has(CARD) || kinds.has(IP);
    let iban = kinds.has(IBAN);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let starts_number = c.is_ascii_digit() || c == b'+' || c == b'(';
        let boundary = i == 0 || !(is_word(b[i - 1]) || b[i - 1] == b'.' || b[i - 1] == b'@');
        if numbers && starts_number && boundary {
            if let Some(run) = run(b, i) {
                if let Some(kind) = classify(b, i, &run, kinds) {
                    out.push(Found {
                        kind,
                        start: i,
                        end: run.end,
                    });
                    i = run.end;
                    continue;
                }
                // `(` and `+` may lead something else: read on from the next byte.
                if c == b'(' || c == b'+' {
                    i += 1;
                    continue;
                }
                // Nothing inside a run that is no number of ours starts one: an account
                // number's tail is not a phone number.
                i = run.end;
                continue;
            }
        } else if iban && c.is_ascii_uppercase() && boundary {
            if let Some(end) = iban_at(b, i) {
                out.push(Found {
                    kind: IBAN,
                    start: i,
                    end,
                });
                i = end;
                continue;
            }
        }
        i += 1;
    }
}

/// Reads a number-like run from `start`: digits in groups, single separators between them.
fn run(b: &[u8], start: usize) -> Option<Run> {
    let mut r = Run {
        end: start,
        digits: 0,
        groups: [0; 8],
        group_count: 0,
        seps: 0,
        plus: false,
        paren: false,
    };
    let mut i = start;
    if b[i] == b'+' {
        r.plus = true;
        i += 1;
    }
    if i < b.len() && b[i] == b'(' {
        r.paren = true;
        r.seps |= PAREN;
        i += 1;
    }
    let mut in_group = 0u32;
    let mut last_digit_end = 0usize;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            r.digits += 1;
            in_group += 1;
            i += 1;
            last_digit_end = i;
            if r.digits > 40 {
                return None;
            }
            continue;
        }
        // A separator must follow a digit and lead to a digit (after at most one space or
        // parenthesis: `(030) 123`, `) 45`).
        if in_group == 0 {
            break;
        }
        let sep = match c {
            b' ' => SPACE,
            b'-' => DASH,
            b'.' => DOT,
            b'/' => SLASH,
            b')' => PAREN,
            b'(' => PAREN,
            _ => break,
        };
        let mut j = i + 1;
        if (c == b')' || c == b'-' || c == b'/') && j < b.len() && b[j] == b' ' {
            j += 1;
        }
        // `+1 (415) ...`: an area code in parentheses after the country code.
        if (c == b' ' || c == b'-') && j < b.len() && b[j] == b'(' {
            j += 1;
            r.seps |= PAREN;
        }
        if j >= b.len() || !b[j].is_ascii_digit() {
            break;
        }
        if r.group_count < 8 {
            r.groups[r.group_count] = in_group.min(255) as u8;
        }
        r.group_count += 1;
        in_group = 0;
        r.seps |= sep;
        i = j;
    }
    if r.digits == 0 {
        return None;
    }
    if r.group_count < 8 {
        r.groups[r.group_count] = in_group.min(255) as u8;
    }
    r.group_count += 1;
    r.end = last_digit_end;
    // The run must end at a word boundary: `123abc` and `1.5x` are not numbers.
    if r.end < b.len() && (is_word(b[r.end]) || b[r.end] == b'@') {
        return None;
    }
    if r.end + 1 < b.len()
        && (b[r.end] == b'.' || b[r.end] == b',')
        && b[r.end + 1].is_ascii_digit()
    {
        return None;
    }
    Some(r)
}

fn classify(b: &[u8], start: usize, r: &Run, kinds: KindSet) -> Option<u8> {
    let groups = &r.groups[..r.group_count.min(8)];
    if kinds.has(IP) && is_ipv4(r, groups) && octets_fit(&b[start..r.end]) {
        return Some(IP);
    }
    if kinds.has(CARD)
        && !r.plus
        && !r.paren
        && r.seps & !(SPACE | DASH) == 0
        && is_card(b, start, r.end, r.digits, groups)
    {
        return Some(CARD);
    }
    if kinds.has(PHONE) && is_phone(b, start, r, groups) {
        return Some(PHONE);
    }
    None
}

fn is_ipv4(r: &Run, groups: &[u8]) -> bool {
    r.seps == DOT
        && !r.plus
        && !r.paren
        && r.group_count == 4
        && groups.iter().all(|&g| (1..=3).contains(&g))
        && r.digits >= 4
}

/// Each of the four dotted numbers is at most 255.
fn octets_fit(text: &[u8]) -> bool {
    text.split(|&c| c == b'.').all(|part| {
        part.iter()
            .try_fold(0u32, |n, &c| Some(n * 10 + u32::from(c.checked_sub(b'0')?)))
            .is_some_and(|n| n <= 255)
    })
}

/// 13 to 19 digits, grouped in fours (or Amex's 4-6-5, or not grouped), passing Luhn.
fn is_card(b: &[u8], start: usize, end: usize, digits: u32, groups: &[u8]) -> bool {
    if !(13..=19).contains(&digits) {
        return false;
    }
    let grouped = match groups.len() {
        1 => true,
        3 => groups == [4, 6, 5] || groups == [4, 6, 4],
        _ => {
            groups[..groups.len() - 1].iter().all(|&g| g == 4)
                && (3..=4).contains(&groups[groups.len() - 1])
        }
    };
    if !grouped {
        return false;
    }
    let digits_iter = b[start..end]
        .iter()
        .filter(|c| c.is_ascii_digit())
        .map(|c| c - b'0');
    let all: Vec<u8> = digits_iter.collect();
    if all.iter().all(|&d| d == all[0]) {
        return false;
    }
    luhn(&all)
}

pub(super) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let d = u32::from(d);
        sum += if i % 2 == 1 {
            let x = d * 2;
            if x > 9 {
                x - 9
            } else {
                x
            }
        } else {
            d
        };
    }
    sum.is_multiple_of(10)
}

/// International (`+` and 8-15 digits), area code in parentheses, or national formats:
/// 9-12 digits in groups, 10-11 digits from a trunk `0`, or the local `555-0123`.
fn is_phone(b: &[u8], start: usize, r: &Run, groups: &[u8]) -> bool {
    let digits = r.digits;
    if !(7..=15).contains(&digits) {
        return false;
    }
    // Ranges (`1990-2000`, `10/12`), decimals and thousands are not phone numbers.
    if r.plus {
        return digits >= 8;
    }
    if r.paren {
        // `(030) 1234567`: the parenthesis closes the first group.
        let close = start + 1 + usize::from(groups[0]);
        return digits >= 9 && b.get(close) == Some(&b')');
    }
    let first = b.get(start).copied().unwrap_or(b'0');
    if r.group_count == 1 {
        return first == b'0' && (10..=11).contains(&digits);
    }
    if r.seps & SLASH != 0 && r.group_count < 3 && first != b'0' {
        return false;
    }
    if r.seps == DOT && groups[1..].iter().all(|&g| g == 3) {
        // 1.234.567.890: a number with thousands separators.
        return false;
    }
    if r.seps == SPACE && groups[0] <= 3 && groups[1..].iter().all(|&g| g == 3) && first != b'0' {
        // 1 234 567 890: the same with spaces.
        return false;
    }
    // Phone groups: 1-5 digits first (a trunk or country prefix), 2-5 between, 2-8 last.
    // Version numbers (10.0.19045.2965) and ISBNs (978-3-16-148410-0) are not shaped so.
    let last = groups.len() - 1;
    let shaped = groups.iter().enumerate().all(|(i, &g)| match i {
        0 => (1..=5).contains(&g),
        i if i == last => (2..=8).contains(&g),
        _ => (2..=5).contains(&g),
    });
    if !shaped || digits > 12 {
        return false;
    }
    if digits == 7 {
        return r.seps == DASH && groups == [3, 4];
    }
    if digits == 8 {
        // Dates (2024-01-15, 15.01.2024) have eight digits: only 4-4 from a trunk 0.
        return first == b'0' && groups.len() == 2;
    }
    true
}

/// The IBAN starting at `i` (a capital letter), if any: country code, two check digits,
/// then the country's length of letters and digits, in groups of four or not grouped;
/// mod-97 must give 1.
fn iban_at(b: &[u8], i: usize) -> Option<usize> {
    if i + 4 > b.len()
        || !b[i + 1].is_ascii_uppercase()
        || !b[i + 2].is_ascii_digit()
        || !b[i + 3].is_ascii_digit()
    {
        return None;
    }
    let length = iban_length([b[i], b[i + 1]])? as usize;
    let mut chars = [0u8; 34];
    let mut n = 0usize;
    let mut j = i;
    while n < length && j < b.len() {
        let c = b[j];
        if c.is_ascii_alphanumeric() {
            chars[n] = c.to_ascii_uppercase();
            n += 1;
            j += 1;
        } else if c == b' '
            && n.is_multiple_of(4)
            && j + 1 < b.len()
            && b[j + 1].is_ascii_alphanumeric()
        {
            j += 1;
        } else {
            break;
        }
    }
    if n != length || (j < b.len() && is_word(b[j])) {
        return None;
    }
    mod97(&chars[..n]).then_some(j)
}

fn mod97(iban: &[u8]) -> bool {
    let mut rem: u32 = 0;
    let rotated = iban[4..].iter().chain(iban[..4].iter());
    for &c in rotated {
        if c.is_ascii_digit() {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else if c.is_ascii_uppercase() {
            rem = (rem * 100 + u32::from(c - b'A') + 10) % 97;
        } else {
            return false;
        }
    }
    rem == 1
}

/// IBAN lengths by country (the SWIFT IBAN registry).
fn iban_length(cc: [u8; 2]) -> Option<u8> {
    let code = [cc[0], cc[1]];
    let n = match &code {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FO" | b"GL" | b"NL" => 18,
        b"MK" | b"SI" => 19,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"XK" => 20,
        b"CH" | b"CR" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"BH" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" | b"VA" => 22,
        b"AE" | b"GI" | b"IL" | b"IQ" | b"TL" => 23,
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"PT" | b"ST" => 25,
        b"IS" | b"TR" => 26,
        b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" => 27,
        b"AL" | b"AZ" | b"BY" | b"CY" | b"DO" | b"GT" | b"HU" | b"LB" | b"PL" | b"SV" => 28,
        b"BR" | b"EG" | b"PS" | b"QA" | b"UA" => 29,
        b"JO" | b"KW" | b"MU" => 30,
        b"MT" => 31,
        b"LC" | b"SC" => 32,
        b"RU" => 33,
        _ => return None,
    };
    Some(n)
}
