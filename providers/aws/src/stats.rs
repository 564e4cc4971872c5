//! Counts API calls, retries and throttles of every SDK client, for the report and the progress bar.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use egress_audit_snapshot::CollectStats;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Shared counters; cheap to clone into every client.
#[derive(Debug, Default, Clone)]
pub struct Counters(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    api_calls: AtomicU64,
    retries: AtomicU64,
    throttles: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self, elapsed_ms: u64) -> CollectStats {
        CollectStats {
            api_calls: self.0.api_calls.load(Ordering::Relaxed),
            retries: self.0.retries.load(Ordering::Relaxed),
            throttles: self.0.throttles.load(Ordering::Relaxed),
            elapsed_ms,
        }
    }

    pub fn interceptor(&self) -> CountingInterceptor {
        CountingInterceptor(self.clone())
    }
}

/// Error codes that AWS services use for "slow down" (the SDK retries them with backoff).
const THROTTLE_CODES: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "EC2ThrottledException",
    "SlowDown",
    "PriorRequestNotComplete",
];

#[derive(Debug)]
pub struct CountingInterceptor(Counters);

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "egress-audit call counter"
    }

    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let c = &(self.0).0;
        c.api_calls.fetch_add(1, Ordering::Relaxed);
        if cfg
            .load::<RequestAttempts>()
            .is_some_and(|a| a.attempts() > 1)
        {
            c.retries.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        ctx: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = ctx.response();
        let status = response.status().as_u16();
        let throttled = status == 429
            || response.body().bytes().is_some_and(|body| {
                status >= 400 && THROTTLE_CODES.iter().any(|code| contains(body, code))
            });
        if throttled {
            (self.0).0.throttles.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Whether the error body names `code` as a whole XML element or JSON value.
fn contains(body: &[u8], code: &str) -> bool {
    let text = String::from_utf8_lossy(body);
    text.contains(&format!(">{code}<")) || text.contains(&format!("\"{code}\""))
}

#[cfg(test)]
mod tests {
    use super::contains;

    #[test]
    fn finds_codes_in_xml_and_json_only_as_whole_values() {
        let xml = b"<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>";
        assert!(contains(xml, "RequestLimitExceeded"));
        assert!(!contains(xml, "Throttling"));
        assert!(contains(br#"{"__type":"Throttling"}"#, "Throttling"));
        assert!(!contains(
            br#"{"__type":"ThrottlingException"}"#,
            "Throttling"
        ));
    }
}
