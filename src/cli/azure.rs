//! `scan azure` / `collect azure`: command-line options and the bridge to the collector crate.

use egress_audit_snapshot::Snapshot;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct AzureArgs {
    /// A subscription id to scan (repeatable) [default: every enabled subscription the credential can see].
    #[arg(long = "subscription", value_name = "ID")]
    pub subscriptions: Vec<String>,
    /// The Entra tenant to authenticate in [default: AZURE_TENANT_ID, or the Azure CLI's].
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
    /// Use only this credential [default: try env, workload-identity, managed-identity, azure-cli in order].
    #[arg(long, value_enum, value_name = "KIND")]
    pub credential: Option<CredentialArg>,
    /// The Azure cloud: sets the ARM endpoint and the token authority (AZURE_RESOURCE_MANAGER_ENDPOINT overrides the endpoint).
    #[arg(long, value_enum, default_value = "public")]
    pub azure_cloud: CloudArg,
    /// Subscriptions scanned at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialArg {
    /// Service principal: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH).
    Env,
    /// Workload identity federation: AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID.
    WorkloadIdentity,
    /// The managed identity of this VM / App Service (user-assigned when AZURE_CLIENT_ID is set).
    ManagedIdentity,
    /// The account of `az login`.
    AzureCli,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CloudArg {
    #[default]
    Public,
    China,
    Usgov,
}

/// Collects a live snapshot. Without the `azure` cargo feature, says how to get it.
pub fn collect(args: &AzureArgs, quiet: bool) -> anyhow::Result<Snapshot> {
    #[cfg(not(feature = "azure"))]
    {
        let _ = (args, quiet);
        anyhow::bail!("this egress-audit was built without azure support; rebuild with `cargo install egress-audit --features azure`");
    }
    #[cfg(feature = "azure")]
    live::collect(args, quiet)
}

#[cfg(feature = "azure")]
mod live {
    use super::{AzureArgs, CloudArg, CredentialArg};
    use egress_audit_azure::{validate_subscription_id, Cloud, Config, CredentialKind};
    use egress_audit_snapshot::Snapshot;
    use std::io::IsTerminal;

    pub fn collect(args: &AzureArgs, quiet: bool) -> anyhow::Result<Snapshot> {
        for id in &args.subscriptions {
            validate_subscription_id(id).map_err(|e| anyhow::anyhow!("--subscription: {e}"))?;
        }
        let cfg = Config {
            subscriptions: args.subscriptions.clone(),
            tenant: args.tenant.clone(),
            credential: args.credential.map(|c| match c {
                CredentialArg::Env => CredentialKind::Env,
                CredentialArg::WorkloadIdentity => CredentialKind::WorkloadIdentity,
                CredentialArg::ManagedIdentity => CredentialKind::ManagedIdentity,
                CredentialArg::AzureCli => CredentialKind::AzureCli,
            }),
            cloud: match args.azure_cloud {
                CloudArg::Public => Cloud::Public,
                CloudArg::China => Cloud::China,
                CloudArg::Usgov => Cloud::UsGov,
            },
            endpoint: None,
            concurrency: usize::from(args.concurrency),
            progress: !quiet && std::io::stderr().is_terminal(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let snap = crate::cli::runtime()?
            .block_on(egress_audit_snapshot::Collector::collect(&cfg))
            .map_err(|e| anyhow::anyhow!(e))?;
        if !quiet {
            for gap in &snap.not_scanned {
                eprintln!(
                    "egress-audit: azure {} {} not scanned: {}",
                    gap.scope,
                    gap.account.as_deref().unwrap_or("-"),
                    gap.reason
                );
            }
        }
        Ok(snap)
    }
}
