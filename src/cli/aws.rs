//! `scan aws` / `collect aws`: command-line options and the bridge to the collector crate.
//! (Skeleton: options and collection to be filled in.)

use egress_audit_snapshot::Snapshot;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct AwsArgs {}

/// Collects a live snapshot. Without the `aws` cargo feature, says how to get it.
pub fn collect(_args: &AwsArgs, _quiet: bool) -> anyhow::Result<Snapshot> {
    #[cfg(not(feature = "aws"))]
    anyhow::bail!("this egress-audit was built without aws support; rebuild with `cargo install egress-audit --features aws`");
    #[cfg(feature = "aws")]
    anyhow::bail!("aws collection is not implemented yet");
}
