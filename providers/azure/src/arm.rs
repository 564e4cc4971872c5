//! ARM REST calls: bearer token, retries (429 `Retry-After`, 5xx with exponential backoff), `nextLink`
//! paging, and ARM's error body turned into a reason a user can act on.

use crate::credential::{CredentialSetup, Tokens};
use azure_core::http::headers::{HeaderName, Headers};
use azure_core::http::{HttpClient, Method, Request, StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Attempts per request, the first included.
const MAX_ATTEMPTS: u32 = 5;
/// First 5xx backoff; doubles on each retry.
const BASE_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// ARM's throttling windows are short; a longer `Retry-After` is honoured only up to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// A guard against a server that pages forever.
const MAX_PAGES: usize = 10_000;

#[derive(Default)]
pub(crate) struct Counters {
    pub api_calls: AtomicU64,
    pub retries: AtomicU64,
    pub throttles: AtomicU64,
}

/// Why a request failed after retries; `Display` is the reason recorded in the snapshot.
#[derive(Debug)]
pub(crate) struct ArmError {
    pub message: String,
}

impl std::fmt::Display for ArmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl ArmError {
    fn other(message: String) -> Self {
        ArmError { message }
    }
}

/// ARM's error body: `{"error": {"code", "message"}}` (tolerant: either may be missing).
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Deserialize, Default)]
struct ErrorDetail {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// One page of an ARM list. Items stay raw JSON: the snapshot keeps them exactly as returned.
#[derive(Deserialize)]
struct ListPage {
    value: Vec<Value>,
    #[serde(default, rename = "nextLink")]
    next_link: Option<String>,
}

pub(crate) struct Arm {
    pub http: std::sync::Arc<dyn HttpClient>,
    pub endpoint: Url,
    pub tokens: Tokens,
    pub setup: CredentialSetup,
    pub counters: Counters,
    pub user_agent: String,
}

impl Arm {
    /// `GET {endpoint}{path_and_query}`, all pages, items merged in order.
    pub async fn list(&self, path_and_query: &str) -> Result<Vec<Value>, ArmError> {
        let first = self
            .endpoint
            .join(path_and_query)
            .map_err(|e| ArmError::other(format!("bad request path {path_and_query}: {e}")))?;
        let mut url = first;
        let mut items = Vec::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            if !seen.insert(url.to_string()) || seen.len() > MAX_PAGES {
                return Err(ArmError::other(format!(
                    "GET {}: paging does not end (nextLink repeats or exceeds {MAX_PAGES} pages)",
                    redact(&url)
                )));
            }
            let body = self.get(&url).await?;
            let page: ListPage = serde_json::from_slice(&body).map_err(|e| {
                ArmError::other(format!(
                    "GET {}: the answer is not an ARM list (`{{\"value\": [...]}}`): {e}",
                    redact(&url)
                ))
            })?;
            items.extend(page.value);
            match page.next_link.filter(|l| !l.is_empty()) {
                None => return Ok(items),
                Some(link) => url = self.next_url(&url, &link)?,
            }
        }
    }

    /// The next page's URL. The bearer token goes only to the ARM endpoint, never to another host
    /// that a `nextLink` might name.
    fn next_url(&self, current: &Url, link: &str) -> Result<Url, ArmError> {
        let next = current.join(link).map_err(|e| {
            ArmError::other(format!(
                "GET {}: nextLink `{link}` is not a URL: {e}",
                redact(current)
            ))
        })?;
        if next.origin() != self.endpoint.origin() {
            return Err(ArmError::other(format!(
                "GET {}: nextLink points to {}, not to the ARM endpoint {}; not following it with the token",
                redact(current),
                next.origin().ascii_serialization(),
                self.endpoint.origin().ascii_serialization()
            )));
        }
        Ok(next)
    }

    /// One GET with retries; the body of a 2xx answer.
    async fn get(&self, url: &Url) -> Result<Vec<u8>, ArmError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let token = self
                .tokens
                .bearer(&self.setup)
                .await
                .map_err(|e| ArmError::other(format!("{e:#}")))?;
            let mut req = Request::new(url.clone(), Method::Get);
            req.insert_header("authorization", format!("Bearer {token}"));
            req.insert_header("accept", "application/json");
            req.insert_header("user-agent", self.user_agent.clone());
            self.counters.api_calls.fetch_add(1, Ordering::Relaxed);
            let outcome = match self.http.execute_request(&req).await {
                Ok(resp) => {
                    let (status, headers, body) = resp.deconstruct();
                    match body.collect().await {
                        Ok(bytes) => Ok((status, headers, bytes.to_vec())),
                        Err(e) => Err(format!("reading the answer: {e}")),
                    }
                }
                Err(e) => Err(error_chain(&e)),
            };
            let (status, headers, body) = match outcome {
                Ok(x) => x,
                // A reset connection or timeout: worth another try.
                Err(_) if attempt < MAX_ATTEMPTS => {
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(e) => {
                    return Err(ArmError::other(format!(
                        "GET {}: {e} (after {attempt} attempts)",
                        redact(url)
                    )))
                }
            };
            if status.is_success() {
                return Ok(body);
            }
            let code = u16::from(status);
            let throttled = status == StatusCode::TooManyRequests;
            if throttled {
                self.counters.throttles.fetch_add(1, Ordering::Relaxed);
            }
            if (throttled || status.is_server_error()) && attempt < MAX_ATTEMPTS {
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
                let wait = retry_after(&headers).unwrap_or_else(|| backoff(attempt));
                tokio::time::sleep(wait.min(MAX_RETRY_AFTER)).await;
                continue;
            }
            return Err(ArmError {
                message: format!(
                    "GET {}: HTTP {code} {}{}",
                    redact(url),
                    arm_error(&body),
                    if attempt > 1 {
                        format!(" (after {attempt} attempts)")
                    } else {
                        String::new()
                    }
                ),
            });
        }
    }
}

/// An error with its causes (`failed to execute request: … invalid peer certificate: UnknownIssuer`),
/// since the outermost message alone rarely says what to fix.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}

fn backoff(attempt: u32) -> Duration {
    BASE_BACKOFF
        .saturating_mul(1 << (attempt - 1).min(16))
        .min(MAX_BACKOFF)
}

/// `retry-after-ms` / `x-ms-retry-after-ms` (milliseconds), or `Retry-After` in seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &Headers) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = headers
            .get_optional_str(&HeaderName::from_static(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = headers.get_optional_str(&HeaderName::from_static("retry-after"))?;
    parse_retry_after(value, azure_core::time::OffsetDateTime::now_utc())
}

pub(crate) fn parse_retry_after(
    value: &str,
    now: azure_core::time::OffsetDateTime,
) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = azure_core::time::parse_rfc7231(value).ok()?;
    let wait = (at - now).whole_milliseconds().max(0);
    Some(Duration::from_millis(wait as u64))
}

/// `AuthorizationFailed: The client … does not have authorization …`, from ARM's error body.
fn arm_error(body: &[u8]) -> String {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    match (parsed.error.code, parsed.error.message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c,
        (None, Some(m)) => m,
        (None, None) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                "(no error body)".to_string()
            } else {
                text.chars().take(300).collect()
            }
        }
    }
}

/// The URL without its query (a `$skiptoken` is long and says nothing to a user).
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = azure_core::time::parse_rfc7231("Wed, 25 Nov 2026 13:00:00 GMT").unwrap();
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after("Wed, 25 Nov 2026 13:00:07 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Wed, 25 Nov 2026 12:59:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(3), Duration::from_secs(2));
        assert_eq!(backoff(20), MAX_BACKOFF);
    }

    #[test]
    fn arm_errors_name_code_and_message() {
        let body = br#"{"error":{"code":"AuthorizationFailed","message":"no read access"}}"#;
        assert_eq!(arm_error(body), "AuthorizationFailed: no read access");
        assert_eq!(arm_error(b"bad gateway"), "bad gateway");
        assert_eq!(arm_error(b""), "(no error body)");
    }
}
