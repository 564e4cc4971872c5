//! The Azure clouds: where ARM lives, which audience its tokens are for, who issues them.

use azure_core::cloud::CloudConfiguration;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cloud {
    #[default]
    Public,
    China,
    UsGov,
}

impl Cloud {
    /// The ARM endpoint, also the token audience.
    pub fn resource_manager(self) -> &'static str {
        match self {
            Cloud::Public => "https://management.azure.com",
            Cloud::China => "https://management.chinacloudapi.cn",
            Cloud::UsGov => "https://management.usgovcloudapi.net",
        }
    }

    /// The Entra ID authority that issues tokens in this cloud.
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Public => "https://login.microsoftonline.com",
            Cloud::China => "https://login.chinacloudapi.cn",
            Cloud::UsGov => "https://login.microsoftonline.us",
        }
    }

    /// The scope to ask a credential for.
    pub fn scope(self) -> String {
        format!("{}/.default", self.resource_manager())
    }

    /// For azure_identity's options. The public cloud stays `None` so that `AZURE_AUTHORITY_HOST`
    /// (honoured by azure_identity only without an explicit cloud) still works there.
    pub(crate) fn configuration(self) -> Option<Arc<CloudConfiguration>> {
        match self {
            Cloud::Public => None,
            Cloud::China => Some(Arc::new(CloudConfiguration::AzureChina)),
            Cloud::UsGov => Some(Arc::new(CloudConfiguration::AzureGovernment)),
        }
    }
}
