//! `--severity`, `--check`, `--skip-check`: keep only some findings, on top of the config.

use egress_audit_engine::checks::Catalog;
use egress_audit_engine::model::{Report, Severity};

/// Drops the findings the filters exclude. A check named that the catalog does not know is an
/// error: a typo must not turn into "no findings".
pub fn apply(
    report: &mut Report,
    severities: &[Severity],
    only: &[String],
    skip: &[String],
    catalog: &Catalog,
) -> anyhow::Result<()> {
    let only = resolve(catalog, only, "--check")?;
    let skip = resolve(catalog, skip, "--skip-check")?;
    report.findings.retain(|f| {
        (severities.is_empty() || severities.contains(&f.severity))
            && (only.is_empty() || only.iter().any(|c| *c == f.check_id))
            && !skip.iter().any(|c| *c == f.check_id)
    });
    report.recount();
    Ok(())
}

/// The check ids that `names` (ids or slugs) stand for; an unknown name is an error naming `flag`.
pub fn resolve(catalog: &Catalog, names: &[String], flag: &str) -> anyhow::Result<Vec<String>> {
    names
        .iter()
        .map(|n| {
            catalog
                .get(n.trim())
                .map(|c| c.id.to_string())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{flag} {n:?}: no such check (see `egress-audit rules` for ids and slugs)"
                    )
                })
        })
        .collect()
}

/// The checks whose absence of findings means "closed": enabled in the config, kept by `--check`
/// and `--skip-check`, and, with `--severity`, of a kept catalog severity.
pub fn checks_run(
    catalog: &Catalog,
    disabled: &[String],
    severities: &[Severity],
    only: &[String],
    skip: &[String],
) -> std::collections::BTreeSet<String> {
    let named = |names: &[String], id: &str, slug: &str| {
        names.iter().any(|n| n.trim() == id || n.trim() == slug)
    };
    catalog
        .checks
        .iter()
        .filter(|c| !named(disabled, &c.id, &c.slug) && !named(skip, &c.id, &c.slug))
        .filter(|c| only.is_empty() || named(only, &c.id, &c.slug))
        .filter(|c| severities.is_empty() || severities.contains(&c.severity))
        .map(|c| c.id.to_string())
        .collect()
}
