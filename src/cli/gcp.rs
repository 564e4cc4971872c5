//! `scan gcp` / `collect gcp`: command-line options and the bridge to the collector crate.
//! (Skeleton: options and collection to be filled in.)

use egress_audit_snapshot::Snapshot;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct GcpArgs {}

/// Collects a live snapshot. Without the `gcp` cargo feature, says how to get it.
pub fn collect(_args: &GcpArgs, _quiet: bool) -> anyhow::Result<Snapshot> {
    #[cfg(not(feature = "gcp"))]
    anyhow::bail!("this egress-audit was built without gcp support; rebuild with `cargo install egress-audit --features gcp`");
    #[cfg(feature = "gcp")]
    anyhow::bail!("gcp collection is not implemented yet");
}
