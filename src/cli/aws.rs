//! `scan aws` / `collect aws`: command-line options and the bridge to the collector crate.

use egress_audit_snapshot::Snapshot;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct AwsArgs {
    /// A profile from ~/.aws/config and ~/.aws/credentials [default: the default credential chain].
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// A region to read (repeatable) [default: every region enabled for the account].
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// Assume this role first, e.g. arn:aws:iam::222233334444:role/Audit.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// The external id that --role-arn (or --org-role) requires.
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,
    /// Read every ACTIVE account of the organization (needs organizations:ListAccounts).
    #[arg(long)]
    pub org: bool,
    /// The role to assume in each member account with --org.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "OrganizationAccountAccessRole"
    )]
    pub org_role: String,
    /// How many regions (and accounts) are read at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// Collects a live snapshot. Without the `aws` cargo feature, says how to get it.
pub fn collect(args: &AwsArgs, quiet: bool) -> anyhow::Result<Snapshot> {
    #[cfg(not(feature = "aws"))]
    {
        let _ = (args, quiet);
        anyhow::bail!("this egress-audit was built without aws support; rebuild with `cargo install egress-audit --features aws`");
    }
    #[cfg(feature = "aws")]
    {
        use std::io::IsTerminal;
        let opts = egress_audit_aws::CollectOptions {
            profile: args.profile.clone(),
            regions: args.regions.clone(),
            role_arn: args.role_arn.clone(),
            external_id: args.external_id.clone(),
            org: args.org,
            org_role: args.org_role.clone(),
            concurrency: usize::from(args.concurrency),
            max_attempts: 5,
            progress: !quiet && std::io::stderr().is_terminal(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        super::runtime()?
            .block_on(egress_audit_snapshot::Collector::collect(&opts))
            .map_err(|e| anyhow::anyhow!(e))
    }
}
