//! Small serde helpers.

use serde::{Deserialize, Deserializer};

/// For `Option<Option<T>>` fields: absent -> `None`, `null` -> `Some(None)`,
/// a value -> `Some(Some(v))`. Use with `#[serde(default, deserialize_with = ...)]`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
