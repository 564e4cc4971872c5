//! Inputs to findings the way `scan` goes, for the normalizer tests: files or in-memory
//! documents through the `Loader`, then the built-in checks with the default config.
//!
//! Tests run only the checks they assert on (`ids`): a new rule file then changes the goldens,
//! the only whole-catalog assertions, and not every test that looks at a resource.

#![allow(dead_code)]

use egress_audit::checks::{run, Catalog};
use egress_audit::config::Config;
use egress_audit::model::Finding;
use egress_audit::normalize::{DocContext, InputError, Inventory, Loader, Options};
use serde_json::Value;
use std::path::Path;

/// Why a selection of checks cannot be made.
#[derive(Debug)]
pub enum Selection {
    /// No built-in check has this id: a typo must not quietly select nothing.
    Unknown(String),
    /// An empty selection would make every "no finding" assertion pass.
    Empty,
}

/// Every built-in check: for assertions that hold whatever the check (nothing can leave a
/// resource, two readings of the same input give the same findings).
pub const EVERY: &[&str] = &["*"];

/// The built-in catalog restricted to the checks `ids`, in catalog order ([`EVERY`]: all of it).
pub fn catalog_of(ids: &[&str]) -> Result<Catalog, Selection> {
    if ids.is_empty() {
        return Err(Selection::Empty);
    }
    let all = Catalog::load(&[]).expect("built-in rules load");
    if ids == EVERY {
        return Ok(all);
    }
    if let Some(id) = ids
        .iter()
        .find(|id| !all.checks.iter().any(|c| c.id == **id))
    {
        return Err(Selection::Unknown(id.to_string()));
    }
    let checks = all
        .checks
        .into_iter()
        .filter(|c| ids.contains(&c.id.as_str()))
        .collect();
    Ok(Catalog { checks })
}

/// The built-in checks `ids` (and no other) on `inv`, with the default config.
pub fn check(inv: &Inventory, ids: &[&str]) -> Vec<Finding> {
    let catalog = catalog_of(ids).expect("a selection of built-in checks");
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

/// [`load`], then the checks `ids`.
pub fn scan(docs: Vec<Value>, ids: &[&str]) -> (Inventory, Vec<Finding>) {
    let inv = load(docs).expect("documents load");
    let findings = check(&inv, ids);
    (inv, findings)
}

/// Files or folders through the loader, then the checks `ids`.
pub fn scan_paths<P: AsRef<Path>>(paths: &[P], ids: &[&str]) -> (Inventory, Vec<Finding>) {
    let mut loader = Loader::default();
    for p in paths {
        loader
            .add_path(p.as_ref())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let inv = loader.build(&Options::default());
    let findings = check(&inv, ids);
    (inv, findings)
}
