//! Tokens for ARM. azure_identity 1.x has no DefaultAzureCredential, so the chain is assembled here,
//! in the order Azure users expect: environment service principal, workload identity, managed
//! identity, Azure CLI. The first credential that returns a token is kept for the whole run.

use crate::cloud::Cloud;
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, HttpClient, Transport};
use azure_core::time::{Duration as AzDuration, OffsetDateTime};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// Test and CI hook: a bearer token used as is, instead of any credential. Never needed by users.
pub const STATIC_TOKEN_ENV: &str = "EGRESS_AUDIT_AZURE_TOKEN";

/// In the chain, how long managed identity may take before the Azure CLI is tried: off Azure the
/// instance metadata address often drops packets, and a user should not wait for a TCP timeout.
const CHAIN_MANAGED_IDENTITY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    /// A service principal from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET
    /// (or AZURE_CLIENT_CERTIFICATE_PATH with the `client-certificate` feature).
    Env,
    /// Workload identity federation (AKS, GitHub Actions OIDC): AZURE_FEDERATED_TOKEN_FILE.
    WorkloadIdentity,
    /// The VM's or App Service's managed identity (user-assigned when AZURE_CLIENT_ID is set).
    ManagedIdentity,
    /// The account of `az login`.
    AzureCli,
}

impl CredentialKind {
    pub const CHAIN: [CredentialKind; 4] = [
        CredentialKind::Env,
        CredentialKind::WorkloadIdentity,
        CredentialKind::ManagedIdentity,
        CredentialKind::AzureCli,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CredentialKind::Env => "environment service principal",
            CredentialKind::WorkloadIdentity => "workload identity",
            CredentialKind::ManagedIdentity => "managed identity",
            CredentialKind::AzureCli => "Azure CLI",
        }
    }
}

/// Hands out bearer tokens for ARM, refreshing them before they expire.
pub(crate) struct Tokens {
    source: Source,
    scope: String,
    cached: Mutex<Option<(String, OffsetDateTime)>>,
}

enum Source {
    Static(String),
    /// Not yet chosen: the kinds to try, in order.
    Chain(Vec<CredentialKind>),
    Chosen(Arc<dyn TokenCredential>),
}

pub(crate) struct CredentialSetup {
    pub kind: Option<CredentialKind>,
    pub tenant: Option<String>,
    pub cloud: Cloud,
    pub http: Arc<dyn HttpClient>,
}

impl Tokens {
    pub fn new(setup: &CredentialSetup) -> anyhow::Result<Tokens> {
        let scope = setup.cloud.scope();
        if let Some(token) = env_nonempty(STATIC_TOKEN_ENV) {
            return Ok(Tokens {
                source: Source::Static(token),
                scope,
                cached: Mutex::new(None),
            });
        }
        let source = match setup.kind {
            Some(kind) => Source::Chosen(
                build(kind, setup)
                    .map_err(|e| anyhow::anyhow!("{} credential: {e}", kind.name()))?,
            ),
            None => Source::Chain(CredentialKind::CHAIN.to_vec()),
        };
        Ok(Tokens {
            source,
            scope,
            cached: Mutex::new(None),
        })
    }

    /// A valid bearer token; the first call picks the credential when none was named.
    pub async fn bearer(&self, setup: &CredentialSetup) -> anyhow::Result<String> {
        let mut cached = self.cached.lock().await;
        let now = OffsetDateTime::now_utc();
        if let Some((token, expires)) = cached.as_ref() {
            if *expires > now + AzDuration::minutes(5) {
                return Ok(token.clone());
            }
        }
        let (token, expires) = match &self.source {
            Source::Static(t) => (t.clone(), now + AzDuration::days(365)),
            Source::Chosen(c) => {
                let t = c
                    .get_token(&[&self.scope], None)
                    .await
                    .map_err(|e| anyhow::anyhow!("getting an ARM token: {e}"))?;
                (t.token.secret().to_string(), t.expires_on)
            }
            Source::Chain(kinds) => self.first_that_works(kinds, setup).await?,
        };
        *cached = Some((token.clone(), expires));
        Ok(token)
    }

    async fn first_that_works(
        &self,
        kinds: &[CredentialKind],
        setup: &CredentialSetup,
    ) -> anyhow::Result<(String, OffsetDateTime)> {
        let mut why = Vec::new();
        for &kind in kinds {
            if !configured(kind) {
                why.push(format!("{}: not configured", kind.name()));
                continue;
            }
            let cred = match build(kind, setup) {
                Ok(c) => c,
                Err(e) => {
                    why.push(format!("{}: {e}", kind.name()));
                    continue;
                }
            };
            let scopes = [self.scope.as_str()];
            let attempt = cred.get_token(&scopes, None);
            let result = if kind == CredentialKind::ManagedIdentity {
                match tokio::time::timeout(CHAIN_MANAGED_IDENTITY_TIMEOUT, attempt).await {
                    Ok(r) => r,
                    Err(_) => {
                        why.push(format!(
                            "{}: no answer from the instance metadata service within {}s",
                            kind.name(),
                            CHAIN_MANAGED_IDENTITY_TIMEOUT.as_secs()
                        ));
                        continue;
                    }
                }
            } else {
                attempt.await
            };
            match result {
                // Later calls of this run go straight to the credential that worked (via the cache;
                // on expiry the chain is walked again, which finds the same one first).
                Ok(t) => return Ok((t.token.secret().to_string(), t.expires_on)),
                Err(e) => why.push(format!("{}: {e}", kind.name())),
            }
        }
        anyhow::bail!(
            "no Azure credential worked ({}). Set a service principal in AZURE_TENANT_ID / AZURE_CLIENT_ID / \
             AZURE_CLIENT_SECRET, run `az login`, or pick one with --credential",
            why.join("; ")
        )
    }
}

/// Whether the chain should try this kind at all (the environment says it is meant to be used).
fn configured(kind: CredentialKind) -> bool {
    match kind {
        CredentialKind::Env => {
            env_nonempty("AZURE_CLIENT_ID").is_some()
                && (env_nonempty("AZURE_CLIENT_SECRET").is_some()
                    || env_nonempty("AZURE_CLIENT_CERTIFICATE_PATH").is_some())
        }
        CredentialKind::WorkloadIdentity => env_nonempty("AZURE_FEDERATED_TOKEN_FILE").is_some(),
        CredentialKind::ManagedIdentity | CredentialKind::AzureCli => true,
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn client_options(setup: &CredentialSetup) -> ClientOptions {
    ClientOptions {
        transport: Some(Transport::new(setup.http.clone())),
        cloud: setup.cloud.configuration(),
        ..Default::default()
    }
}

fn build(
    kind: CredentialKind,
    setup: &CredentialSetup,
) -> anyhow::Result<Arc<dyn TokenCredential>> {
    let tenant = setup
        .tenant
        .clone()
        .or_else(|| env_nonempty("AZURE_TENANT_ID"));
    Ok(match kind {
        CredentialKind::Env => {
            let tenant = tenant.ok_or_else(|| {
                anyhow::anyhow!("no tenant: set AZURE_TENANT_ID or give --tenant")
            })?;
            let client_id = env_nonempty("AZURE_CLIENT_ID")
                .ok_or_else(|| anyhow::anyhow!("AZURE_CLIENT_ID is not set"))?;
            if let Some(secret) = env_nonempty("AZURE_CLIENT_SECRET") {
                let options = ClientSecretCredentialOptions {
                    client_options: client_options(setup),
                };
                ClientSecretCredential::new(&tenant, client_id, Secret::new(secret), Some(options))?
            } else if let Some(path) = env_nonempty("AZURE_CLIENT_CERTIFICATE_PATH") {
                certificate(tenant, client_id, &path, setup)?
            } else {
                anyhow::bail!("set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH");
            }
        }
        CredentialKind::WorkloadIdentity => {
            let options = WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions {
                    client_options: client_options(setup),
                },
                tenant_id: tenant,
                ..Default::default()
            };
            WorkloadIdentityCredential::new(Some(options))?
        }
        CredentialKind::ManagedIdentity => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: env_nonempty("AZURE_CLIENT_ID").map(UserAssignedId::ClientId),
                client_options: client_options(setup),
            };
            ManagedIdentityCredential::new(Some(options))?
        }
        CredentialKind::AzureCli => {
            let options = AzureCliCredentialOptions {
                tenant_id: setup.tenant.clone(),
                ..Default::default()
            };
            AzureCliCredential::new(Some(options))?
        }
    })
}

#[cfg(feature = "client-certificate")]
fn certificate(
    tenant: String,
    client_id: String,
    path: &str,
    setup: &CredentialSetup,
) -> anyhow::Result<Arc<dyn TokenCredential>> {
    use azure_core::credentials::SecretBytes;
    use azure_identity::{ClientCertificateCredential, ClientCertificateCredentialOptions};
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("AZURE_CLIENT_CERTIFICATE_PATH {path}: {e}"))?;
    let options = ClientCertificateCredentialOptions {
        client_options: client_options(setup),
        password: env_nonempty("AZURE_CLIENT_CERTIFICATE_PASSWORD").map(Secret::new),
    };
    Ok(ClientCertificateCredential::new(
        tenant,
        client_id,
        SecretBytes::new(bytes),
        Some(options),
    )?)
}

#[cfg(not(feature = "client-certificate"))]
fn certificate(
    _tenant: String,
    _client_id: String,
    path: &str,
    _setup: &CredentialSetup,
) -> anyhow::Result<Arc<dyn TokenCredential>> {
    anyhow::bail!(
        "AZURE_CLIENT_CERTIFICATE_PATH ({path}) needs a build with `--features azure-client-certificate` \
         (it links OpenSSL); use AZURE_CLIENT_SECRET, workload identity or managed identity instead"
    )
}
