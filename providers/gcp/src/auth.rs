//! Credentials as GCP users expect them: application default credentials (gcloud user login,
//! `GOOGLE_APPLICATION_CREDENTIALS` key or external-account file, the metadata server), an access
//! token given in the environment, and optional service-account impersonation.

use google_cloud_auth::credentials::{
    self, CacheableResource, Credentials, CredentialsProvider, EntityTag,
};
use google_cloud_auth::errors::CredentialsError;
use http::{Extensions, HeaderMap, HeaderValue};

/// An OAuth2 access token to use as is (the same variable Terraform's Google provider reads), e.g.
/// `GOOGLE_OAUTH_ACCESS_TOKEN=$(gcloud auth print-access-token)`. It wins over ADC.
pub const ACCESS_TOKEN_ENV: &str = "GOOGLE_OAUTH_ACCESS_TOKEN";

pub fn credentials(impersonate: Option<&str>) -> anyhow::Result<Credentials> {
    let base = match std::env::var(ACCESS_TOKEN_ENV) {
        Ok(token) if !token.trim().is_empty() => StaticToken::new(token.trim())?.into(),
        _ => credentials::Builder::default().build().map_err(|e| {
            anyhow::anyhow!(
                "no usable Google credentials ({e}); run `gcloud auth application-default login`, \
                 set GOOGLE_APPLICATION_CREDENTIALS to a service-account key or workload identity \
                 federation file, run on a Google Cloud VM, or set {ACCESS_TOKEN_ENV}"
            )
        })?,
    };
    match impersonate {
        None => Ok(base),
        Some(account) => credentials::impersonated::Builder::from_source_credentials(base)
            .with_target_principal(account)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot impersonate {account}: {e}")),
    }
}

/// A fixed bearer token: no refresh, so it lasts as long as the token does (about an hour).
#[derive(Debug)]
struct StaticToken {
    headers: HeaderMap,
    tag: EntityTag,
}

impl StaticToken {
    fn new(token: &str) -> anyhow::Result<Self> {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| anyhow::anyhow!("{ACCESS_TOKEN_ENV} holds characters a token cannot"))?;
        value.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value);
        Ok(StaticToken {
            headers,
            tag: EntityTag::new(),
        })
    }
}

impl CredentialsProvider for StaticToken {
    async fn headers(
        &self,
        extensions: Extensions,
    ) -> Result<CacheableResource<HeaderMap>, CredentialsError> {
        if extensions.get::<EntityTag>() == Some(&self.tag) {
            return Ok(CacheableResource::NotModified);
        }
        Ok(CacheableResource::New {
            entity_tag: self.tag.clone(),
            data: self.headers.clone(),
        })
    }

    async fn universe_domain(&self) -> Option<String> {
        None
    }
}
