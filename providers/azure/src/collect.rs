//! Which subscriptions, which lists, how many at once; the snapshot they make.

use crate::arm::{Arm, ArmError, Counters};
use crate::credential::{CredentialSetup, Tokens};
use crate::{Config, ENDPOINT_ENV};
use azure_core::http::Url;
use egress_audit_snapshot::{CollectStats, Document, NotScanned, Provider, Snapshot};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Deserialize;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

pub const SUBSCRIPTIONS_API_VERSION: &str = "2022-12-01";

/// One ARM list per subscription.
pub struct ListSpec {
    /// The document kind, and the resource type under `Microsoft.Network`.
    pub kind: &'static str,
    pub api_version: &'static str,
    /// Without it the subscription's other lists would mislead (a NIC whose NSG is unknown looks
    /// open), so its failure makes the whole subscription not scanned. Other lists fail alone.
    pub essential: bool,
}

/// What is listed per subscription, in this order. NSG lists include `securityRules` and
/// `defaultSecurityRules`; virtual networks include their subnets.
pub const LISTS: [ListSpec; 5] = [
    ListSpec {
        kind: "networkSecurityGroups",
        api_version: "2024-05-01",
        essential: true,
    },
    ListSpec {
        kind: "networkInterfaces",
        api_version: "2024-05-01",
        essential: true,
    },
    ListSpec {
        kind: "virtualNetworks",
        api_version: "2024-05-01",
        essential: true,
    },
    ListSpec {
        kind: "routeTables",
        api_version: "2024-05-01",
        essential: false,
    },
    ListSpec {
        kind: "azureFirewalls",
        api_version: "2024-05-01",
        essential: false,
    },
];

/// A subscription as `GET /subscriptions` lists it (tolerant: only what is needed).
#[derive(Deserialize)]
struct SubscriptionItem {
    #[serde(default, rename = "subscriptionId")]
    subscription_id: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

/// Collects a snapshot of every requested (or visible) subscription.
pub async fn collect(cfg: Config) -> anyhow::Result<Snapshot> {
    let started = Instant::now();
    let endpoint = endpoint(&cfg)?;
    // reqwest is built without a bundled crypto provider; ring is the process default (an Err
    // only says another part of the program installed one first, which is as good).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = azure_core::http::new_http_client(None);
    let setup = CredentialSetup {
        kind: cfg.credential,
        tenant: cfg.tenant.clone(),
        cloud: cfg.cloud,
        http: http.clone(),
    };
    let arm = Arc::new(Arm {
        http,
        endpoint,
        tokens: Tokens::new(&setup)?,
        setup,
        counters: Counters::default(),
        user_agent: format!("egress-audit/{}", cfg.tool_version),
    });

    // A credential that cannot give a token is a usage error, not a partial scan: ask once up front.
    arm.tokens.bearer(&arm.setup).await?;

    let (subscriptions, skipped) = if cfg.subscriptions.is_empty() {
        running_subscriptions(&arm).await?
    } else {
        let mut subs = cfg.subscriptions.clone();
        let mut seen = std::collections::HashSet::new();
        subs.retain(|s| seen.insert(s.to_ascii_lowercase()));
        (subs, Vec::new())
    };

    let progress = progress_bar(cfg.progress, subscriptions.len() * LISTS.len());
    let gate = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, sub) in subscriptions.iter().enumerate() {
        let (arm, gate, progress, sub) = (arm.clone(), gate.clone(), progress.clone(), sub.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let result = scan_subscription(&arm, &sub, &progress).await;
            (index, result)
        });
    }
    let mut results = Vec::with_capacity(subscriptions.len());
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.map_err(|e| anyhow::anyhow!("a subscription task failed: {e}"))?);
    }
    progress.finish_and_clear();
    // Documents in the order the subscriptions were given, whatever order they finished in.
    results.sort_by_key(|(i, _)| *i);

    let mut snap = Snapshot::new(&cfg.tool_version, now_rfc3339());
    snap.skipped = skipped;
    for (_, (docs, gaps)) in results {
        snap.documents.extend(docs);
        snap.not_scanned.extend(gaps);
    }
    snap.stats = Some(CollectStats {
        api_calls: arm.counters.api_calls.load(Ordering::Relaxed),
        retries: arm.counters.retries.load(Ordering::Relaxed),
        throttles: arm.counters.throttles.load(Ordering::Relaxed),
        elapsed_ms: started.elapsed().as_millis() as u64,
    });
    Ok(snap)
}

/// The ARM endpoint: `AZURE_RESOURCE_MANAGER_ENDPOINT`, else the cloud's. Plain http only to this
/// machine (the tests' replay server), so that a token never crosses a network unencrypted.
fn endpoint(cfg: &Config) -> anyhow::Result<Url> {
    let raw = cfg
        .endpoint
        .clone()
        .or_else(|| {
            std::env::var(ENDPOINT_ENV)
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| cfg.cloud.resource_manager().to_string());
    let mut text = raw.trim().to_string();
    if !text.ends_with('/') {
        text.push('/');
    }
    let url = Url::parse(&text)
        .map_err(|e| anyhow::anyhow!("ARM endpoint `{raw}` ({ENDPOINT_ENV}) is not a URL: {e}"))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        anyhow::bail!(
            "ARM endpoint `{raw}` ({ENDPOINT_ENV}) must use https (plain http is allowed only to localhost)"
        );
    }
    Ok(url)
}

/// The subscriptions to scan, and those skipped. `Warned` and `PastDue` subscriptions still run
/// their resources, so they are scanned like `Enabled` ones (and so is a state this code does not
/// know: reading it costs nothing, skipping it could hide egress); `Disabled` and `Deleted` ones
/// run nothing and are listed as skipped.
async fn running_subscriptions(arm: &Arm) -> anyhow::Result<(Vec<String>, Vec<NotScanned>)> {
    let items = arm
        .list(&format!(
            "subscriptions?api-version={SUBSCRIPTIONS_API_VERSION}"
        ))
        .await
        .map_err(|e| anyhow::anyhow!("listing subscriptions: {e}"))?;
    let mut subs = Vec::new();
    let mut skipped = Vec::new();
    for item in items {
        let Ok(sub) = serde_json::from_value::<SubscriptionItem>(item) else {
            continue;
        };
        let Some(id) = sub.subscription_id else {
            continue;
        };
        let state = sub.state.unwrap_or_default();
        if ["Disabled", "Deleted"]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&state))
        {
            skipped.push(NotScanned {
                provider: Provider::Azure,
                account: Some(id),
                region: None,
                scope: "subscription".into(),
                reason: format!("the subscription is {state}: nothing runs in it"),
            });
        } else {
            subs.push(id);
        }
    }
    if subs.is_empty() {
        anyhow::bail!(
            "the credential sees no subscription that runs resources{}; give --subscription ID, or grant it Reader on one",
            if skipped.is_empty() {
                String::new()
            } else {
                format!(" ({} disabled or deleted)", skipped.len())
            }
        );
    }
    Ok((subs, skipped))
}

/// Every list of one subscription: its documents, or why (part of) it was not read.
async fn scan_subscription(
    arm: &Arm,
    sub: &str,
    progress: &ProgressBar,
) -> (Vec<Document>, Vec<NotScanned>) {
    let mut docs = Vec::new();
    let mut gaps = Vec::new();
    for (done, spec) in LISTS.iter().enumerate() {
        progress.set_message(format!("{sub}: {}", spec.kind));
        let path = format!(
            "subscriptions/{sub}/providers/Microsoft.Network/{}?api-version={}",
            spec.kind, spec.api_version
        );
        let result = arm.list(&path).await;
        progress.inc(1);
        match result {
            // An empty list is left out: the loader could not tell its kind, and it holds nothing.
            Ok(items) if items.is_empty() => {}
            Ok(items) => docs.push(Document {
                provider: Provider::Azure,
                account: Some(sub.to_string()),
                region: None,
                kind: spec.kind.to_string(),
                data: serde_json::json!({ "value": Value::Array(items) }),
            }),
            Err(e) if spec.essential => {
                progress.inc((LISTS.len() - done - 1) as u64);
                return (Vec::new(), vec![not_scanned(sub, "subscription", &e)]);
            }
            Err(e) => {
                gaps.push(not_scanned(sub, spec.kind, &e));
            }
        }
    }
    (docs, gaps)
}

fn not_scanned(sub: &str, scope: &str, e: &ArmError) -> NotScanned {
    NotScanned {
        provider: Provider::Azure,
        account: Some(sub.to_string()),
        region: None,
        scope: scope.to_string(),
        reason: e.to_string(),
    }
}

fn progress_bar(show: bool, lists: usize) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(lists as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("azure {bar:30} {pos}/{len} lists  {wide_msg}")
    {
        bar.set_style(style);
    }
    bar
}

fn now_rfc3339() -> String {
    azure_core::time::to_rfc3339(&azure_core::time::OffsetDateTime::now_utc())
}
