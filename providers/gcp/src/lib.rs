//! Collector for gcp. Fetches the control-plane data that egress-audit judges and returns it as an
//! [`egress_audit_snapshot::Snapshot`] whose documents have the same shape as the Compute REST API
//! (`{"kind": "compute#firewallList", "items": [...]}`, aggregated lists keyed by scope).
//!
//! It only reads: firewalls, networks, network firewall policies (global and regional), the
//! effective firewalls of each network (which carry the hierarchical policies of the project's
//! ancestry), instances and routes. Judging is the engine's job.

mod auth;
mod compute;
mod projects;
mod retry;

pub use auth::ACCESS_TOKEN_ENV;

use egress_audit_snapshot::{CollectStats, NotScanned, Provider, Snapshot};
use std::sync::Arc;
use std::time::Instant;

/// What to collect, and how to reach Google.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Project ids to scan. When empty, every active project under `organization` / `folder`.
    pub projects: Vec<String>,
    /// Numeric organization id (`123456789` or `organizations/123456789`).
    pub organization: Option<String>,
    /// Numeric folder id (`123` or `folders/123`).
    pub folder: Option<String>,
    /// Service account to impersonate with the ambient credentials.
    pub impersonate_service_account: Option<String>,
    /// Compute API root, e.g. a Private Service Connect endpoint. A trailing `/compute/v1/`
    /// (as in gcloud's `CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE`) is accepted.
    pub compute_endpoint: Option<String>,
    /// Resource Manager API root, for `organization` / `folder` scans.
    pub resource_manager_endpoint: Option<String>,
    /// How many projects are read at once (at least 1).
    pub concurrency: usize,
    /// Print progress to standard error.
    pub progress: bool,
}

/// Reads every requested project. Projects that cannot be read become [`NotScanned`] entries;
/// an error is returned only when nothing can be read at all (no credentials, no projects).
pub async fn collect(config: &Config) -> anyhow::Result<Snapshot> {
    let started = Instant::now();
    // Before any credential is read: a bearer token must never go out in plain text.
    for (endpoint, what) in [
        (&config.compute_endpoint, "Compute"),
        (&config.resource_manager_endpoint, "Resource Manager"),
    ] {
        if let Some(e) = endpoint {
            check_endpoint(e, what)?;
        }
    }
    let credentials = auth::credentials(config.impersonate_service_account.as_deref())?;
    let caller = Arc::new(retry::Caller::default());
    let projects = if config.projects.is_empty() {
        projects::enumerate(config, &credentials, &caller).await?
    } else {
        // Each project once, in the order given.
        let mut seen = std::collections::HashSet::new();
        config
            .projects
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty() && seen.insert(p.clone()))
            .collect()
    };
    if projects.is_empty() {
        anyhow::bail!("no active project found to scan; give --project, or check that the caller has roles/browser on the organization or folder");
    }
    let clients = compute::Clients::new(config.compute_endpoint.as_deref(), &credentials).await?;
    let results = compute::collect_projects(
        &clients,
        &caller,
        &projects,
        config.concurrency.max(1),
        config.progress,
    )
    .await?;

    let mut snapshot = Snapshot::new(env!("CARGO_PKG_VERSION"), String::new());
    for r in results {
        snapshot.documents.extend(r.documents);
        snapshot.not_scanned.extend(r.not_scanned);
    }
    let mut stats: CollectStats = caller.stats();
    stats.elapsed_ms = started.elapsed().as_millis() as u64;
    snapshot.stats = Some(stats);
    Ok(snapshot)
}

fn not_scanned(project: &str, region: Option<String>, scope: &str, reason: String) -> NotScanned {
    NotScanned {
        provider: Provider::Gcp,
        account: Some(project.to_string()),
        region,
        scope: scope.to_string(),
        reason,
    }
}

/// An API endpoint must use https; plain http is allowed only to this machine (the tests' replay
/// server), as for the Azure collector, so that the bearer token never crosses a network
/// unencrypted.
fn check_endpoint(raw: &str, what: &str) -> anyhow::Result<()> {
    let uri: http::Uri = raw
        .trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("{what} endpoint `{raw}` is not a URL: {e}"))?;
    let loopback = matches!(
        uri.host(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
    );
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if loopback => Ok(()),
        _ => anyhow::bail!(
            "{what} endpoint `{raw}` must use https (plain http is allowed only to localhost, so \
             that the access token is never sent unencrypted)"
        ),
    }
}

/// An API root without the version path that the client library adds itself.
fn api_root(endpoint: &str, version_paths: &[&str]) -> String {
    let mut root = endpoint.trim().trim_end_matches('/').to_string();
    for path in version_paths {
        if let Some(stripped) = root.strip_suffix(path) {
            root = stripped.trim_end_matches('/').to_string();
            break;
        }
    }
    root
}

impl egress_audit_snapshot::Collector for Config {
    async fn collect(
        &self,
    ) -> Result<egress_audit_snapshot::Snapshot, egress_audit_snapshot::CollectError> {
        collect(self).await.map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_http_only_to_localhost() {
        for ok in [
            "https://compute.googleapis.com/compute/v1/",
            "http://127.0.0.1:8080",
            "http://localhost:9/",
            "http://[::1]:8080/",
        ] {
            super::check_endpoint(ok, "Compute").unwrap();
        }
        for bad in [
            "http://compute.example.com/",
            "http://10.0.0.1:8080",
            "http://127.0.0.1.example.com/",
            "ftp://127.0.0.1/",
            "compute.googleapis.com",
        ] {
            let e = super::check_endpoint(bad, "Compute")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("must use https") || e.contains("not a URL"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn api_root_drops_the_version_path() {
        let roots = ["/compute/v1", "/compute/beta"];
        assert_eq!(
            super::api_root("https://compute.googleapis.com/compute/v1/", &roots),
            "https://compute.googleapis.com"
        );
        assert_eq!(
            super::api_root("https://compute-psc.p.googleapis.com", &roots),
            "https://compute-psc.p.googleapis.com"
        );
        assert_eq!(
            super::api_root("http://127.0.0.1:8080/", &roots),
            "http://127.0.0.1:8080"
        );
    }
}
