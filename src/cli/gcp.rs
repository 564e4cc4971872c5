//! `scan gcp` / `collect gcp`: command-line options and the bridge to the collector crate.

use egress_audit_snapshot::Snapshot;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct GcpArgs {
    /// A project id to scan (repeatable). Without one, every active project under
    /// --organization or --folder.
    #[arg(long = "project", value_name = "PROJECT_ID")]
    pub projects: Vec<String>,
    /// Scan every active project under this organization (numeric id; needs roles/browser).
    #[arg(long, value_name = "ORG_ID", conflicts_with = "folder")]
    pub organization: Option<String>,
    /// Scan every active project under this folder (numeric id; needs roles/browser).
    #[arg(long, value_name = "FOLDER_ID")]
    pub folder: Option<String>,
    /// Impersonate this service account with the ambient credentials
    /// (needs roles/iam.serviceAccountTokenCreator on it).
    #[arg(long, value_name = "EMAIL")]
    pub impersonate_service_account: Option<String>,
    /// Compute API endpoint, e.g. a Private Service Connect endpoint.
    #[arg(
        long,
        value_name = "URL",
        env = "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE"
    )]
    pub compute_endpoint: Option<String>,
    /// Resource Manager API endpoint, for --organization / --folder scans.
    #[arg(
        long,
        value_name = "URL",
        env = "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER"
    )]
    pub resource_manager_endpoint: Option<String>,
    /// How many projects to read at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// Collects a live snapshot. Without the `gcp` cargo feature, says how to get it.
pub fn collect(args: &GcpArgs, quiet: bool) -> anyhow::Result<Snapshot> {
    #[cfg(not(feature = "gcp"))]
    {
        let _ = (args, quiet);
        anyhow::bail!("this egress-audit was built without gcp support; rebuild with `cargo install egress-audit --features gcp`");
    }
    #[cfg(feature = "gcp")]
    {
        use std::io::IsTerminal;
        if args.projects.is_empty() && args.organization.is_none() && args.folder.is_none() {
            anyhow::bail!(
                "nothing to scan: give --project PROJECT_ID (repeatable), --organization ORG_ID or --folder FOLDER_ID"
            );
        }
        let config = egress_audit_gcp::Config {
            projects: args.projects.clone(),
            organization: args.organization.clone(),
            folder: args.folder.clone(),
            impersonate_service_account: args.impersonate_service_account.clone(),
            compute_endpoint: non_empty(&args.compute_endpoint),
            resource_manager_endpoint: non_empty(&args.resource_manager_endpoint),
            concurrency: usize::from(args.concurrency),
            progress: !quiet && std::io::stderr().is_terminal(),
        };
        let mut snapshot = super::runtime()?
            .block_on(egress_audit_snapshot::Collector::collect(&config))
            .map_err(|e| anyhow::anyhow!(e))?;
        snapshot.tool_version = env!("CARGO_PKG_VERSION").to_string();
        snapshot.collected_at =
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(snapshot)
    }
}

#[cfg(feature = "gcp")]
fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_ref().filter(|s| !s.trim().is_empty()).cloned()
}
