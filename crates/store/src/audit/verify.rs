//! Checking the chain: every record's hash from the one before, positions without gaps,
//! every checkpoint and the head signed by the expected key and matching the chain.

use super::{chain, hex, signature_valid, Record, Signed};

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// Records read.
    pub records: i64,
    /// Checkpoints whose signature and hash both held.
    pub checkpoints: usize,
    /// The position the signed head vouches for, when it held.
    pub head: Option<i64>,
    /// The first bad position and what is wrong there; `None` when everything held.
    pub first_bad: Option<(i64, String)>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Verifies `records` (in stored order), `checkpoints` and `head` against `public_key`
/// (base64; `None`: each signature is checked against the key stored beside it, which
/// proves integrity but not who signed).
pub fn verify(
    records: &[Record],
    checkpoints: &[Signed],
    head: Option<&Signed>,
    public_key: Option<&str>,
) -> Verdict {
    let mut problems: Vec<(i64, String)> = Vec::new();
    let mut previous = [0u8; 32];
    // Chain hash (hex) at each good position, 1-based.
    let mut hashes: Vec<String> = Vec::with_capacity(records.len());
    for record in records {
        let expected = hashes.len() as i64 + 1;
        if record.seq != expected {
            let why = if record.seq > expected {
                format!(
                    "record {expected} is missing (the next stored is {})",
                    record.seq
                )
            } else {
                format!(
                    "record {} is out of order (expected {expected})",
                    record.seq
                )
            };
            problems.push((expected, why));
            break;
        }
        let hash = chain(&previous, &record.record);
        if hex(&hash) != record.hash {
            problems.push((
                record.seq,
                format!(
                    "record {} does not match its chain hash (edited, replaced or reordered)",
                    record.seq
                ),
            ));
            break;
        }
        previous = hash;
        hashes.push(hex(&hash));
    }
    let good = hashes.len() as i64;
    let mut verdict = Verdict {
        records: records.len() as i64,
        ..Verdict::default()
    };
    let mut covered = 0i64;
    for cp in checkpoints {
        match check_signed("checkpoint", cp, public_key, &hashes, good, covered) {
            Ok(()) => {
                verdict.checkpoints += 1;
                covered = cp.seq;
            }
            Err(problem) => {
                problems.push(problem);
                break;
            }
        }
    }
    if let Some(head) = head {
        match check_signed("head", head, public_key, &hashes, good, covered) {
            Ok(()) if head.seq < good => problems.push((
                head.seq + 1,
                format!(
                    "records {}-{good} come after the signed head (record {})",
                    head.seq + 1,
                    head.seq
                ),
            )),
            Ok(()) => verdict.head = Some(head.seq),
            Err(problem) => problems.push(problem),
        }
    }
    verdict.first_bad = problems.into_iter().min_by_key(|(seq, _)| *seq);
    verdict
}

/// A checkpoint or head: signed by the right key, over a position the chain reaches, with
/// the chain's hash there. `covered`: the last position an earlier checkpoint vouched for.
fn check_signed(
    kind: &str,
    signed: &Signed,
    public_key: Option<&str>,
    hashes: &[String],
    good: i64,
    covered: i64,
) -> Result<(), (i64, String)> {
    let key = public_key.unwrap_or(&signed.public_key);
    if !signature_valid(kind, signed, key) {
        return Err((
            covered + 1,
            format!(
                "the {kind} at record {} is not signed by the audit key",
                signed.seq
            ),
        ));
    }
    if signed.seq > good {
        return Err((
            good + 1,
            format!(
                "the log ends at record {good} but a signed {kind} covers record {}: records were removed",
                signed.seq
            ),
        ));
    }
    let at = usize::try_from(signed.seq - 1).unwrap_or(usize::MAX);
    if signed.seq < 1 || hashes.get(at) != Some(&signed.hash) {
        return Err((
            covered + 1,
            format!(
                "records {}-{} do not match the signed {kind} at record {}",
                covered + 1,
                signed.seq,
                signed.seq
            ),
        ));
    }
    Ok(())
}
