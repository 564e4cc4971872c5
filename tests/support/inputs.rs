//! Inputs to findings the way `scan` goes, for the normalizer tests: files or in-memory
//! documents through the `Loader`, then the built-in checks with the default config.

#![allow(dead_code)]

use egress_audit::checks::{run, Catalog};
use egress_audit::config::Config;
use egress_audit::model::Finding;
use egress_audit::normalize::{DocContext, InputError, Inventory, Loader, Options};
use serde_json::Value;
use std::path::Path;

/// The built-in checks on `inv`, with the default config.
pub fn check(inv: &Inventory) -> Vec<Finding> {
    let catalog = Catalog::load(&[]).expect("built-in rules load");
    run(inv, &catalog, &Config::default()).expect("checks run")
}

/// Loads documents as if each were its own file `doc-N.json`.
pub fn load(docs: Vec<Value>) -> Result<Inventory, InputError> {
    let mut loader = Loader::default();
    for (i, d) in docs.into_iter().enumerate() {
        let ctx = DocContext {
            source: format!("doc-{i}.json"),
            ..Default::default()
        };
        loader.add_value(d, &ctx)?;
    }
    Ok(loader.build(&Options::default()))
}

/// [`load`], then the checks.
pub fn scan(docs: Vec<Value>) -> (Inventory, Vec<Finding>) {
    let inv = load(docs).expect("documents load");
    let findings = check(&inv);
    (inv, findings)
}

/// Files or folders through the loader, then the checks.
pub fn scan_paths<P: AsRef<Path>>(paths: &[P]) -> (Inventory, Vec<Finding>) {
    let mut loader = Loader::default();
    for p in paths {
        loader
            .add_path(p.as_ref())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let inv = loader.build(&Options::default());
    let findings = check(&inv);
    (inv, findings)
}
