//! Azure test helpers: documents loaded as `docN.json`, resources named by the last segment of
//! their ARM id, and findings and evidence as short comparable strings.

#![allow(dead_code)]

use egress_audit::model::Finding;
use egress_audit::normalize::{DocContext, Inventory, Loader, Options};
use serde_json::Value;

/// Loads documents as if each were its own file `docN.json`.
pub fn load_docs(docs: Vec<Value>) -> Inventory {
    let mut loader = Loader::default();
    for (i, d) in docs.into_iter().enumerate() {
        let ctx = DocContext {
            source: format!("doc{i}.json"),
            ..Default::default()
        };
        loader.add_value(d, &ctx).unwrap();
    }
    loader.build(&Options::default())
}

/// The last segment of an ARM id (the resource's name).
pub fn short(id: &str) -> &str {
    id.rsplit('/').next().unwrap()
}

/// `CHECK resource` for every finding, sorted.
pub fn pairs(f: &[Finding]) -> Vec<String> {
    let mut v: Vec<String> = f
        .iter()
        .map(|f| format!("{} {}", f.check_id, short(&f.resource_id)))
        .collect();
    v.sort();
    v
}

/// The finding of `check` on the resource named `resource` (there must be one).
pub fn find<'a>(f: &'a [Finding], check: &str, resource: &str) -> &'a Finding {
    f.iter()
        .find(|x| x.check_id == check && short(&x.resource_id) == resource)
        .unwrap_or_else(|| panic!("no {check} on {resource}: {:#?}", pairs(f)))
}

/// Evidence as `rule action protocol ports destination`.
pub fn evidence(f: &Finding) -> Vec<String> {
    f.evidence
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {} {}",
                e.name, e.action, e.protocol, e.ports, e.destination
            )
        })
        .collect()
}
