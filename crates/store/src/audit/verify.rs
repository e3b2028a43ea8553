//! Checking the log: in every lane, every record's hash from the one before, positions
//! without gaps, every checkpoint and the head signed by the expected key and matching the
//! chain; across lanes, the register without gaps, every registered lane still holding its
//! opening record.

use std::collections::BTreeMap;

use super::{chain, hex, signature_valid, Lane, Record, Signed};

/// The first bad record: its lane and position, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bad {
    pub lane: i64,
    pub seq: i64,
    pub why: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// Records read.
    pub records: i64,
    /// Lanes seen (register and records).
    pub lanes: usize,
    /// Checkpoints whose signature and hash both held.
    pub checkpoints: usize,
    /// Per lane, the position its signed head vouches for, when it held.
    pub heads: BTreeMap<i64, i64>,
    /// The first bad record (lowest lane, then position); `None` when everything held.
    pub first_bad: Option<Bad>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.first_bad.is_none()
    }

    /// The position `lane`'s signed head vouches for.
    pub fn head(&self, lane: i64) -> Option<i64> {
        self.heads.get(&lane).copied()
    }
}

/// Verifies `records`, `checkpoints`, `heads` and the lane register against `public_keys`
/// (base64; any of them may have signed, so that a rotated key's old signatures still
/// verify; empty: each signature is checked against the key stored beside it, which proves
/// integrity but not who signed). Records of one lane are taken in stored order.
pub fn verify(
    records: &[Record],
    checkpoints: &[Signed],
    heads: &[Signed],
    lanes: &[Lane],
    public_keys: &[&str],
) -> Verdict {
    let mut by_lane: BTreeMap<i64, LaneParts<'_>> = BTreeMap::new();
    for r in records {
        by_lane.entry(r.lane).or_default().0.push(r);
    }
    for cp in checkpoints {
        by_lane.entry(cp.lane).or_default().1.push(cp);
    }
    for head in heads {
        by_lane.entry(head.lane).or_default().2 = Some(head);
    }
    for lane in lanes {
        by_lane.entry(lane.lane).or_default();
    }
    let mut verdict = Verdict {
        records: records.len() as i64,
        lanes: by_lane.len(),
        ..Verdict::default()
    };
    let mut problems: Vec<Bad> = Vec::new();
    // The register: lanes 1..=n, none missing; every lane with records is registered.
    let registered: std::collections::BTreeSet<i64> = lanes.iter().map(|l| l.lane).collect();
    let highest = registered.iter().next_back().copied().unwrap_or(0);
    if let Some(missing) = (1..=highest).find(|l| !registered.contains(l)) {
        problems.push(Bad {
            lane: missing,
            seq: 1,
            why: format!(
                "lane {missing} is missing from the lane register (lanes 1-{highest} were opened)"
            ),
        });
    }
    for (&lane, (records, checkpoints, head)) in &by_lane {
        if lane != 0 && !registered.contains(&lane) {
            problems.push(Bad {
                lane,
                seq: 1,
                why: format!("lane {lane} is not in the lane register"),
            });
        }
        if lane != 0 {
            if let Some(why) = opening_problem(lane, records.first().copied()) {
                problems.push(Bad { lane, seq: 1, why });
            }
        }
        let result = verify_lane(records, checkpoints, *head, public_keys);
        verdict.checkpoints += result.checkpoints;
        if let Some(h) = result.head {
            verdict.heads.insert(lane, h);
        }
        if let Some((seq, why)) = result.first_bad {
            problems.push(Bad { lane, seq, why });
        }
    }
    verdict.first_bad = problems.into_iter().min_by_key(|b| (b.lane, b.seq));
    verdict
}

/// One lane's records, checkpoints and head.
type LaneParts<'a> = (Vec<&'a Record>, Vec<&'a Signed>, Option<&'a Signed>);

/// A registered lane's first record must be its own opening.
fn opening_problem(lane: i64, first: Option<&Record>) -> Option<String> {
    let Some(first) = first else {
        return Some(format!(
            "lane {lane} was opened but holds no records: they were removed"
        ));
    };
    if first.seq != 1 {
        return None; // the chain check names the missing record
    }
    let value: serde_json::Value = serde_json::from_str(&first.record).unwrap_or_default();
    if value["kind"] != "lane" || value["lane"] != lane {
        return Some(format!(
            "lane {lane}'s first record is not its opening (records were moved between lanes)"
        ));
    }
    None
}

/// One lane's result: positions 1-based.
struct LaneVerdict {
    checkpoints: usize,
    head: Option<i64>,
    first_bad: Option<(i64, String)>,
}

fn verify_lane(
    records: &[&Record],
    checkpoints: &[&Signed],
    head: Option<&Signed>,
    public_keys: &[&str],
) -> LaneVerdict {
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
    let mut verdict = LaneVerdict {
        checkpoints: 0,
        head: None,
        first_bad: None,
    };
    let mut covered = 0i64;
    for cp in checkpoints {
        match check_signed("checkpoint", cp, public_keys, &hashes, good, covered) {
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
        match check_signed("head", head, public_keys, &hashes, good, covered) {
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
    public_keys: &[&str],
    hashes: &[String],
    good: i64,
    covered: i64,
) -> Result<(), (i64, String)> {
    let valid = if public_keys.is_empty() {
        signature_valid(kind, signed, &signed.public_key)
    } else {
        public_keys
            .iter()
            .any(|key| signature_valid(kind, signed, key))
    };
    if !valid {
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
