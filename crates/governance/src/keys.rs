//! Virtual key secrets: `sy_` + 22 base62 characters of randomness (128 bits from the
//! operating system's CSPRNG) + 6 base62 characters of CRC-32 checksum, 31 characters in
//! all. The checksum lets a mistyped or truncated key be refused without a lookup, and lets
//! secret scanners recognise Switchyard keys. Stored only as HMAC-SHA256 under a pepper that
//! lives in the environment, never in the database.

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// Every secret starts with this.
pub const PREFIX: &str = "sy_";
/// Tokens of the admin API's tenant roles.
pub const ADMIN_PREFIX: &str = "sya_";
const BODY: usize = 22;
const CHECK: usize = 6;
/// How many leading characters of a secret are shown in lists.
pub const DISPLAY_PREFIX: usize = 12;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("SWITCHYARD_KEY_PEPPER must be at least 32 characters (it is {0})")]
    ShortPepper(usize),
    #[error("the operating system's random source failed")]
    Random,
}

/// The server-wide secret keys are hashed under (`SWITCHYARD_KEY_PEPPER`).
pub struct Pepper(hmac::Key);

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper(***)")
    }
}

impl Pepper {
    pub fn new(value: &str) -> Result<Pepper, KeyError> {
        if value.len() < 32 {
            return Err(KeyError::ShortPepper(value.len()));
        }
        Ok(Pepper(hmac::Key::new(hmac::HMAC_SHA256, value.as_bytes())))
    }

    /// HMAC-SHA256 of a presented secret.
    pub fn hash(&self, secret: &str) -> [u8; 32] {
        let tag = hmac::sign(&self.0, secret.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

/// A freshly made key secret. Shown once, at creation.
pub struct KeySecret(String);

impl std::fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeySecret({}***)", self.display_prefix())
    }
}

impl KeySecret {
    /// A new virtual key, `sy_...`.
    pub fn generate() -> Result<KeySecret, KeyError> {
        KeySecret::with_prefix(PREFIX)
    }

    /// A new token for the admin API's tenant roles, `sya_...` (never a virtual key).
    pub fn generate_admin() -> Result<KeySecret, KeyError> {
        KeySecret::with_prefix(ADMIN_PREFIX)
    }

    fn with_prefix(prefix: &str) -> Result<KeySecret, KeyError> {
        let mut random = [0u8; 16];
        SystemRandom::new()
            .fill(&mut random)
            .map_err(|_| KeyError::Random)?;
        let body = base62(u128::from_be_bytes(random), BODY);
        let check = base62(u128::from(crc32fast::hash(body.as_bytes())), CHECK);
        Ok(KeySecret(format!("{prefix}{body}{check}")))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn display_prefix(&self) -> &str {
        self.0.get(..DISPLAY_PREFIX).unwrap_or("")
    }
}

/// Whether `text` has the shape of a Switchyard key with a correct checksum.
pub fn well_formed(text: &str) -> bool {
    text.strip_prefix(PREFIX).is_some_and(body_well_formed)
}

/// Whether `text` has the shape of an admin API tenant token with a correct checksum.
pub fn admin_well_formed(text: &str) -> bool {
    text.strip_prefix(ADMIN_PREFIX)
        .is_some_and(body_well_formed)
}

fn body_well_formed(rest: &str) -> bool {
    if rest.len() != BODY + CHECK || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (body, check) = rest.split_at(BODY);
    base62(u128::from(crc32fast::hash(body.as_bytes())), CHECK) == check
}

/// `value` in base 62, left-padded with zeros to `width` characters.
fn base62(mut value: u128, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&digits).into_owned()
}

/// Lower-case hex of a hash, as stored.
pub fn to_hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A stored hex hash back to bytes.
pub fn from_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A new key id: `key_` + 16 hex digits from the CSPRNG.
pub fn new_id(kind: &str) -> Result<String, KeyError> {
    let mut random = [0u8; 8];
    SystemRandom::new()
        .fill(&mut random)
        .map_err(|_| KeyError::Random)?;
    Ok(format!("{kind}_{:016x}", u64::from_be_bytes(random)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let a = KeySecret::generate().unwrap();
        let b = KeySecret::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 31);
        assert!(well_formed(a.expose()));
        assert!(a.expose().starts_with("sy_"));
        assert_eq!(a.display_prefix().len(), 12);
        assert!(!format!("{a:?}").contains(&a.expose()[12..]));
    }

    #[test]
    fn a_128_bit_body_fits_22_base62_digits() {
        assert_eq!(base62(u128::MAX, 22).len(), 22);
        assert_ne!(&base62(u128::MAX, 22)[..1], "0", "22 digits are needed");
        assert_eq!(base62(61, 2), "0z");
    }

    #[test]
    fn hashes_depend_on_the_pepper() {
        let p1 = Pepper::new(&"a".repeat(32)).unwrap();
        let p2 = Pepper::new(&"b".repeat(32)).unwrap();
        assert_ne!(p1.hash("sy_x"), p2.hash("sy_x"));
        assert_eq!(p1.hash("sy_x"), p1.hash("sy_x"));
        assert_eq!(Pepper::new("short").unwrap_err(), KeyError::ShortPepper(5));
        let hex = to_hex(&p1.hash("sy_x"));
        assert_eq!(from_hex(&hex), Some(p1.hash("sy_x")));
        assert_eq!(from_hex("zz"), None);
        assert!(!format!("{p1:?}").contains('a'));
    }

    proptest! {
        #[test]
        fn any_single_change_breaks_the_checksum(index in 3usize..31, replacement in 0usize..62) {
            let key = KeySecret::generate().unwrap();
            let mut bytes = key.expose().as_bytes().to_vec();
            let new = ALPHABET[replacement];
            prop_assume!(bytes[index] != new);
            bytes[index] = new;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(!well_formed(&changed));
            prop_assert!(!well_formed(&key.expose()[..30]));
        }
    }
}
