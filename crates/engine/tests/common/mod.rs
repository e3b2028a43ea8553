//! Where the test models are: the catalog entries in the model store (`$SWITCHYARD_HOME`,
//! default `~/.switchyard`). `./scripts/test` pulls them before the tests run.

use std::path::PathBuf;

pub fn model_path(name: &str) -> PathBuf {
    let store = switchyard_models::Store::from_env();
    let entry =
        switchyard_models::find(name).unwrap_or_else(|| panic!("{name} is not in the catalog"));
    assert!(
        store.is_present(&entry),
        "model {name} is not in {}: run `switchyard models pull {name}` (./scripts/test does)",
        store.home().display()
    );
    store.load_path(&entry)
}
