//! Collector for aws. Fetches the control-plane data that egress-audit judges and returns it as an
//! [`egress_audit_snapshot::Snapshot`] whose documents have the same shape as the CLI's JSON.
//!
//! No checks happen here: this crate only reads (EC2 `Describe*`, `GetManagedPrefixListEntries`,
//! STS `GetCallerIdentity` / `AssumeRole`, Organizations `ListAccounts`) and converts.

mod auth;
mod collect;
pub mod convert;
mod error;
mod fetch;
mod progress;
mod stats;

pub use collect::collect;

/// The SDK crates this collector is built on, for callers (and tests) that need the same
/// clients, e.g. to seed an emulator.
pub mod sdk {
    pub use aws_config as config;
    pub use aws_sdk_ec2 as ec2;
    pub use aws_sdk_organizations as organizations;
    pub use aws_sdk_sts as sts;

    /// The one HTTP client every SDK client uses: hyper 1 with rustls on ring.
    pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
        crate::auth::http_client()
    }
}

/// What to collect, and how.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// A profile of the shared config/credentials files instead of the default chain's choice.
    pub profile: Option<String>,
    /// Regions to read; empty = every region enabled for the account (`DescribeRegions`).
    pub regions: Vec<String>,
    /// A role to assume (with the resolved credentials) before anything is read.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    /// Read every ACTIVE account of the organization, assuming `org_role` in each.
    pub org: bool,
    pub org_role: String,
    /// How many regions (and accounts, while roles are assumed) are read at once.
    pub concurrency: usize,
    /// Attempts per API call, first included (SDK standard retry mode with backoff).
    pub max_attempts: u32,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Written into the snapshot.
    pub tool_version: String,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            profile: None,
            regions: Vec::new(),
            role_arn: None,
            external_id: None,
            org: false,
            org_role: "OrganizationAccountAccessRole".into(),
            concurrency: 8,
            max_attempts: 5,
            progress: false,
            tool_version: String::new(),
        }
    }
}

impl egress_audit_snapshot::Collector for CollectOptions {
    async fn collect(
        &self,
    ) -> Result<egress_audit_snapshot::Snapshot, egress_audit_snapshot::CollectError> {
        collect::collect(self).await.map_err(Into::into)
    }
}
