//! `scan azure` / `collect azure`: command-line options and the bridge to the collector crate.
//! (Skeleton: options and collection to be filled in.)

use egress_audit_snapshot::Snapshot;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct AzureArgs {}

/// Collects a live snapshot. Without the `azure` cargo feature, says how to get it.
pub fn collect(_args: &AzureArgs, _quiet: bool) -> anyhow::Result<Snapshot> {
    #[cfg(not(feature = "azure"))]
    anyhow::bail!("this egress-audit was built without azure support; rebuild with `cargo install egress-audit --features azure`");
    #[cfg(feature = "azure")]
    anyhow::bail!("azure collection is not implemented yet");
}
