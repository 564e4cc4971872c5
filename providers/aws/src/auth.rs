//! Credentials and SDK configuration: the default chain, profiles, assumed roles.

use crate::error::reason;
use crate::stats::Counters;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::region::Region;
use std::time::Duration;

/// Region for account-wide calls (STS, Organizations, DescribeRegions) when none is configured.
const FALLBACK_REGION: &str = "us-east-1";

pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The caller's configuration: default chain (environment, profile, SSO, web identity, ECS,
/// IMDS) or `profile`; `AWS_ENDPOINT_URL` and `AWS_REGION` are read by aws-config itself.
pub async fn base_config(
    profile: Option<&str>,
    first_region: Option<&str>,
    max_attempts: u32,
) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .retry_config(RetryConfig::standard().with_max_attempts(max_attempts.max(1)))
        // A hung connection must not hang the scan: each attempt gets a minute (a page of 1000
        // ENIs takes seconds), then it is retried like any transient error.
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        );
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    let config = loader.load().await;
    if config.region().is_some() {
        return config;
    }
    let region = first_region.unwrap_or(FALLBACK_REGION).to_string();
    config.to_builder().region(Region::new(region)).build()
}

/// `base` with the credentials of `role_arn`, assumed with `base`'s credentials.
pub async fn assume(base: &SdkConfig, role_arn: &str, external_id: Option<&str>) -> SdkConfig {
    let mut builder = AssumeRoleProvider::builder(role_arn)
        .session_name("egress-audit")
        .configure(base);
    if let Some(id) = external_id {
        builder = builder.external_id(id);
    }
    let provider = builder.build().await;
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

/// The account id these credentials act in (STS GetCallerIdentity). It also proves the
/// credentials work, since providers resolve lazily.
pub async fn account_id(config: &SdkConfig, counters: &Counters) -> Result<String, String> {
    let sts_config = aws_sdk_sts::config::Builder::from(config)
        .interceptor(counters.interceptor())
        .build();
    let out = aws_sdk_sts::Client::from_conf(sts_config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| reason(&e))?;
    out.account
        .ok_or_else(|| "GetCallerIdentity returned no account id".to_string())
}

pub fn ec2_client(config: &SdkConfig, region: &str, counters: &Counters) -> aws_sdk_ec2::Client {
    let conf = aws_sdk_ec2::config::Builder::from(config)
        .region(Region::new(region.to_string()))
        .interceptor(counters.interceptor())
        .build();
    aws_sdk_ec2::Client::from_conf(conf)
}

pub fn organizations_client(
    config: &SdkConfig,
    counters: &Counters,
) -> aws_sdk_organizations::Client {
    let conf = aws_sdk_organizations::config::Builder::from(config)
        .interceptor(counters.interceptor())
        .build();
    aws_sdk_organizations::Client::from_conf(conf)
}
