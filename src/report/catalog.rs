//! `egress-audit rules`: the check catalog. (Skeleton.)

use crate::checks::Catalog;

pub fn render_catalog(catalog: &Catalog, _format: &str) -> anyhow::Result<String> {
    let mut s = String::new();
    for c in &catalog.checks {
        s.push_str(&format!(
            "{}  {:<22} {:<8} {}\n",
            c.id, c.slug, c.severity, c.title
        ));
    }
    Ok(s)
}
