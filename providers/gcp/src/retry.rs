//! One place that sends every request: retries 429 and 5xx (and Compute's 403 rate-limit
//! reasons) with exponential backoff and jitter, honours `Retry-After`, and counts calls.
//! The client libraries' own retry loop is switched off so that every attempt is counted here.

use egress_audit_snapshot::CollectStats;
use google_cloud_gax::error::rpc::StatusDetails;
use google_cloud_gax::error::Error;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Attempts per request, the first included.
const MAX_ATTEMPTS: u32 = 6;
const BASE_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct Caller {
    api_calls: AtomicU64,
    retries: AtomicU64,
    throttles: AtomicU64,
}

/// Why a request gave up.
#[derive(Debug)]
pub enum Failure {
    /// The caller cannot authenticate at all: no project can be read, so the run stops.
    Credentials(String),
    /// The API refused or failed this request (403, 404, 400, 5xx after retries, …).
    Api { reason: String },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Credentials(m) => write!(f, "{m}"),
            Failure::Api { reason } => f.write_str(reason),
        }
    }
}

impl Caller {
    pub fn stats(&self) -> CollectStats {
        CollectStats {
            api_calls: self.api_calls.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttles: self.throttles.load(Ordering::Relaxed),
            elapsed_ms: 0,
        }
    }

    /// Sends `request` (a fresh future per attempt) until it succeeds, fails for good, or the
    /// attempts run out. `what` names the call in error messages.
    pub async fn call<T, F, Fut>(&self, what: &str, request: F) -> Result<T, Failure>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.api_calls.fetch_add(1, Ordering::Relaxed);
            let error = match request().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if error.is_authentication() {
                return Err(Failure::Credentials(format!(
                    "cannot get a Google access token: {error}"
                )));
            }
            let kind = classify(&error);
            if kind == Retry::No || attempt >= MAX_ATTEMPTS {
                let tries = if attempt > 1 {
                    format!(" (after {attempt} attempts)")
                } else {
                    String::new()
                };
                return Err(Failure::Api {
                    reason: format!("{what}: {}{tries}", describe(&error)),
                });
            }
            if kind == Retry::Throttled {
                self.throttles.fetch_add(1, Ordering::Relaxed);
            }
            self.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(retry_after(&error).unwrap_or_else(|| backoff(attempt))).await;
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Retry {
    No,
    Throttled,
    Transient,
}

fn classify(error: &Error) -> Retry {
    match error.http_status_code() {
        Some(429) => Retry::Throttled,
        Some(403) if is_rate_limit(error) => Retry::Throttled,
        Some(500 | 502 | 503 | 504) => Retry::Transient,
        Some(_) => Retry::No,
        None if error.is_io()
            || error.is_connect()
            || error.is_timeout()
            || error.is_transport() =>
        {
            Retry::Transient
        }
        None => Retry::No,
    }
}

/// Compute answers some quota errors with 403 and a rate-limit reason rather than 429.
fn is_rate_limit(error: &Error) -> bool {
    reasons(error).iter().any(|r| {
        matches!(
            r.as_str(),
            "rateLimitExceeded" | "userRateLimitExceeded" | "RATE_LIMIT_EXCEEDED"
        )
    })
}

/// The machine-readable reasons of an error (`SERVICE_DISABLED`, `accessNotConfigured`, …).
pub fn reasons(error: &Error) -> Vec<String> {
    let Some(status) = error.status() else {
        return Vec::new();
    };
    status
        .details
        .iter()
        .filter_map(|d| match d {
            StatusDetails::ErrorInfo(info) if !info.reason.is_empty() => Some(info.reason.clone()),
            _ => None,
        })
        .collect()
}

/// `HTTP 403 PERMISSION_DENIED: Compute Engine API has not been used … [SERVICE_DISABLED]`.
pub fn describe(error: &Error) -> String {
    let http = error
        .http_status_code()
        .map(|c| format!("HTTP {c} "))
        .unwrap_or_default();
    match error.status() {
        Some(status) => {
            let reasons = reasons(error);
            let reasons = if reasons.is_empty() {
                String::new()
            } else {
                format!(" [{}]", reasons.join(", "))
            };
            format!("{http}{}: {}{reasons}", status.code.name(), status.message)
        }
        None => match error.http_payload() {
            Some(body) if !body.is_empty() => {
                let text = String::from_utf8_lossy(body);
                let text: String = text.chars().take(300).collect();
                format!("{http}{}", text.trim())
            }
            _ => format!("{http}{error}"),
        },
    }
}

fn retry_after(error: &Error) -> Option<Duration> {
    let value = error.http_headers()?.get("retry-after")?.to_str().ok()?;
    let secs: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_DELAY))
}

/// Exponential backoff with "full jitter" between half and all of the step.
fn backoff(attempt: u32) -> Duration {
    let step = BASE_DELAY
        .saturating_mul(1 << (attempt - 1).min(16))
        .min(MAX_DELAY);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let fraction = 0.5 + f64::from(nanos % 1000) / 2000.0;
    step.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(backoff(1) <= BASE_DELAY && backoff(1) >= BASE_DELAY / 2);
        assert!(backoff(3) >= BASE_DELAY * 2);
        assert!(backoff(20) <= MAX_DELAY);
    }

    #[test]
    fn classifies_statuses() {
        let e = |code| Error::http(code, http::HeaderMap::new(), bytes::Bytes::new());
        assert_eq!(classify(&e(429)), Retry::Throttled);
        assert_eq!(classify(&e(503)), Retry::Transient);
        assert_eq!(classify(&e(403)), Retry::No);
        assert_eq!(classify(&e(404)), Retry::No);
    }
}
