//! Collector for Azure. Fetches the network controls that egress-audit judges (NSGs with their
//! security and default rules, network interfaces, virtual networks with their subnets, route tables,
//! Azure Firewalls) from the ARM REST API and returns them as an [`egress_audit_snapshot::Snapshot`]
//! whose documents have the ARM list shape `{"value": [...]}`, items exactly as ARM returned them.
//!
//! Why not `azure_mgmt_network`: it is frozen (0.21, pinned to API version 2024-03-01 and to the
//! legacy azure_core 0.21) and is the heaviest crate a build could have. Five list calls need no
//! generated SDK: this crate calls ARM directly, takes tokens from `azure_identity` 1.x and sends
//! requests (token requests too) through `azure_core` 1.x's reqwest client on rustls with the ring
//! provider, so the build has one TLS stack and no C crypto build.

mod arm;
mod cloud;
mod collect;
mod credential;

pub use cloud::Cloud;
pub use collect::{collect, LISTS, SUBSCRIPTIONS_API_VERSION};
pub use credential::{CredentialKind, STATIC_TOKEN_ENV};

/// Environment variable that overrides the ARM endpoint of `--azure-cloud` (Azure Stack, a proxy,
/// or the tests' local replay server).
pub const ENDPOINT_ENV: &str = "AZURE_RESOURCE_MANAGER_ENDPOINT";

/// What to collect and how.
#[derive(Clone, Debug)]
pub struct Config {
    /// Subscription ids; empty = every enabled subscription the credential can see.
    pub subscriptions: Vec<String>,
    /// Entra tenant for the credential (overrides `AZURE_TENANT_ID`).
    pub tenant: Option<String>,
    /// One credential type; `None` = try the chain in order.
    pub credential: Option<CredentialKind>,
    pub cloud: Cloud,
    /// ARM endpoint; `None` = the cloud's (or [`ENDPOINT_ENV`] when set).
    pub endpoint: Option<String>,
    /// Subscriptions scanned at the same time (at least 1).
    pub concurrency: usize,
    /// Draw a progress bar on standard error.
    pub progress: bool,
    pub tool_version: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            subscriptions: Vec::new(),
            tenant: None,
            credential: None,
            cloud: Cloud::Public,
            endpoint: None,
            concurrency: 4,
            progress: false,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Checks that a subscription id is a GUID, since it goes into request paths.
pub fn validate_subscription_id(id: &str) -> Result<(), String> {
    let groups: Vec<&str> = id.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{id}` is not a subscription id (a GUID like 00000000-0000-0000-0000-000000000000)"
        ))
    }
}

impl egress_audit_snapshot::Collector for Config {
    async fn collect(
        &self,
    ) -> Result<egress_audit_snapshot::Snapshot, egress_audit_snapshot::CollectError> {
        collect::collect(self.clone()).await.map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_ids_must_be_guids() {
        assert!(validate_subscription_id("6f1c0e4e-2a5b-4c1d-9e3f-0a1b2c3d4e5f").is_ok());
        assert!(validate_subscription_id("6f1c0e4e-2a5b-4c1d-9e3f-0a1b2c3d4e5").is_err());
        assert!(validate_subscription_id("../../providers").is_err());
        assert!(validate_subscription_id("my-subscription").is_err());
    }
}
