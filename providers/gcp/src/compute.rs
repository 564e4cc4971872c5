//! Per-project Compute reads. Each listing is read page by page (`pageToken`) and written as one
//! document in the REST shape, all pages merged: `{"kind": "compute#firewallList", "items": [...]}`,
//! or for aggregated lists `{"kind": ..., "items": {"zones/us-central1-a": {"instances": [...]}}}`.

use crate::retry::{Caller, Failure};
use crate::{api_root, not_scanned};
use egress_audit_snapshot::{Document, NotScanned, Provider};
use google_cloud_auth::credentials::Credentials;
use google_cloud_compute_v1::client;
use google_cloud_gax::retry_policy::NeverRetry;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::future::Future;
use std::sync::Arc;

/// Paths the Compute client adds itself; gcloud's endpoint overrides include them.
const VERSION_PATHS: &[&str] = &["/compute/v1", "/compute/beta", "/compute/alpha"];

/// One client per Compute service; they share the HTTP connection settings and credentials.
#[derive(Clone)]
pub struct Clients {
    firewalls: client::Firewalls,
    networks: client::Networks,
    policies: client::NetworkFirewallPolicies,
    instances: client::Instances,
    routes: client::Routes,
}

macro_rules! build_client {
    ($ty:ty, $endpoint:expr, $creds:expr) => {{
        let mut builder = <$ty>::builder()
            .with_credentials($creds.clone())
            .with_retry_policy(NeverRetry);
        if let Some(e) = $endpoint {
            builder = builder.with_endpoint(e.clone());
        }
        builder.build().await.map_err(|e| {
            anyhow::anyhow!(
                "cannot set up the Compute API client ({}): {e}",
                stringify!($ty)
            )
        })?
    }};
}

impl Clients {
    pub async fn new(endpoint: Option<&str>, creds: &Credentials) -> anyhow::Result<Self> {
        let endpoint = endpoint.map(|e| api_root(e, VERSION_PATHS));
        Ok(Clients {
            firewalls: build_client!(client::Firewalls, &endpoint, creds),
            networks: build_client!(client::Networks, &endpoint, creds),
            policies: build_client!(client::NetworkFirewallPolicies, &endpoint, creds),
            instances: build_client!(client::Instances, &endpoint, creds),
            routes: build_client!(client::Routes, &endpoint, creds),
        })
    }
}

/// What one project gave.
#[derive(Debug, Default)]
pub struct ProjectResult {
    pub documents: Vec<Document>,
    pub not_scanned: Vec<NotScanned>,
}

/// Reads `projects` with at most `concurrency` at once; results come back in the given order.
pub async fn collect_projects(
    clients: &Clients,
    caller: &Arc<Caller>,
    projects: &[String],
    concurrency: usize,
    progress: bool,
) -> anyhow::Result<Vec<ProjectResult>> {
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, project) in projects.iter().enumerate() {
        let (clients, caller, limit, project) = (
            clients.clone(),
            caller.clone(),
            limit.clone(),
            project.clone(),
        );
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (index, collect_project(&clients, &caller, &project).await)
        });
    }
    let mut results: Vec<Option<ProjectResult>> = projects.iter().map(|_| None).collect();
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        let (index, result) =
            joined.map_err(|e| anyhow::anyhow!("a collector task failed: {e}"))?;
        let result = match result {
            Ok(r) => r,
            // No credentials: every project would fail the same way, so stop. (collect_project
            // turns API failures into NotScanned entries itself.)
            Err(Failure::Credentials(m) | Failure::Api { reason: m }) => {
                tasks.abort_all();
                if progress && done > 0 {
                    eprintln!();
                }
                anyhow::bail!("{m}");
            }
        };
        done += 1;
        if progress {
            eprint!("\rgcp: {done}/{} projects read", projects.len());
        }
        results[index] = Some(result);
    }
    if progress {
        eprintln!();
    }
    Ok(results.into_iter().flatten().collect())
}

/// Reads one project. The first listing decides whether the project can be read at all; a
/// later listing that fails is recorded as not scanned under its API name, and the rest is kept.
async fn collect_project(
    c: &Clients,
    caller: &Caller,
    project: &str,
) -> Result<ProjectResult, Failure> {
    let mut out = ProjectResult::default();
    let p = project.to_string();

    let firewalls = list_pages(caller, "firewalls.list", |token| {
        let (c, p) = (c.firewalls.clone(), p.clone());
        async move {
            c.list()
                .set_project(p)
                .set_or_clear_page_token(token)
                .send()
                .await
                .map(|page| (page.next_page_token.clone(), to_value(&page)))
        }
    })
    .await;
    let firewalls = match firewalls {
        Ok(pages) => pages,
        Err(Failure::Api { reason }) => {
            out.not_scanned
                .push(not_scanned(project, None, "project", reason));
            return Ok(out);
        }
        Err(e) => return Err(e),
    };
    out.push(
        project,
        "firewalls",
        list_document("compute#firewallList", firewalls),
    );

    let networks = list_pages(caller, "networks.list", |token| {
        let (c, p) = (c.networks.clone(), p.clone());
        async move {
            c.list()
                .set_project(p)
                .set_or_clear_page_token(token)
                .send()
                .await
                .map(|page| (page.next_page_token.clone(), to_value(&page)))
        }
    })
    .await;
    let mut network_names = Vec::new();
    if let Some(pages) = out.keep(project, "networks.list", networks)? {
        let doc = list_document("compute#networkList", pages);
        for n in doc["items"].as_array().into_iter().flatten() {
            if let Some(name) = n.get("name").and_then(Value::as_str) {
                let link = n.get("selfLink").and_then(Value::as_str).unwrap_or(name);
                network_names.push((name.to_string(), link.to_string()));
            }
        }
        out.push(project, "networks", doc);
    }

    // Global and regional network firewall policies, with their rules and associations.
    let policies = list_pages(caller, "networkFirewallPolicies.aggregatedList", |token| {
        let (c, p) = (c.policies.clone(), p.clone());
        async move {
            c.aggregated_list()
                .set_project(p)
                .set_or_clear_page_token(token)
                .send()
                .await
                .map(|page| (page.next_page_token.clone(), to_value(&page)))
        }
    })
    .await;
    if let Some(pages) = out.keep(project, "networkFirewallPolicies.aggregatedList", policies)? {
        let (doc, gaps) = aggregated_document("compute#networkFirewallPolicyAggregatedList", pages);
        out.note_unreachable(project, "networkFirewallPolicies.aggregatedList", &gaps);
        out.push(project, "networkFirewallPolicies.aggregatedList", doc);
    }

    // Per network: the policies that apply to it, hierarchical ones from the project's ancestry
    // included (type HIERARCHY, in evaluation order). The response does not name the network, so
    // the document carries its URL in an added `network` field.
    for (name, link) in &network_names {
        let what = format!("networks.getEffectiveFirewalls({name})");
        let effective = caller
            .call(&what, || {
                let (c, p, n) = (c.networks.clone(), p.clone(), name.clone());
                async move {
                    c.get_effective_firewalls()
                        .set_project(p)
                        .set_network(n)
                        .send()
                        .await
                }
            })
            .await;
        if let Some(resp) = out.keep(project, "networks.getEffectiveFirewalls", effective)? {
            let mut doc = to_value(&resp);
            if let Value::Object(map) = &mut doc {
                map.insert("network".into(), Value::String(link.clone()));
                map.entry("firewalls").or_insert_with(|| json!([]));
                map.entry("firewallPolicys").or_insert_with(|| json!([]));
            }
            out.push(project, "networks.getEffectiveFirewalls", doc);
        }
    }

    let instances = list_pages(caller, "instances.aggregatedList", |token| {
        let (c, p) = (c.instances.clone(), p.clone());
        async move {
            c.aggregated_list()
                .set_project(p)
                .set_or_clear_page_token(token)
                .send()
                .await
                .map(|page| (page.next_page_token.clone(), to_value(&page)))
        }
    })
    .await;
    if let Some(pages) = out.keep(project, "instances.aggregatedList", instances)? {
        let (doc, gaps) = aggregated_document("compute#instanceAggregatedList", pages);
        out.note_unreachable(project, "instances.aggregatedList", &gaps);
        out.push(project, "instances.aggregatedList", doc);
    }

    let routes = list_pages(caller, "routes.list", |token| {
        let (c, p) = (c.routes.clone(), p.clone());
        async move {
            c.list()
                .set_project(p)
                .set_or_clear_page_token(token)
                .send()
                .await
                .map(|page| (page.next_page_token.clone(), to_value(&page)))
        }
    })
    .await;
    if let Some(pages) = out.keep(project, "routes.list", routes)? {
        out.push(project, "routes", list_document("compute#routeList", pages));
    }
    Ok(out)
}

impl ProjectResult {
    fn push(&mut self, project: &str, kind: &str, data: Value) {
        self.documents.push(Document {
            provider: Provider::Gcp,
            account: Some(project.to_string()),
            region: None,
            kind: kind.to_string(),
            data,
        });
    }

    /// A listing that failed after the project proved readable: note it, keep going.
    fn keep<T>(
        &mut self,
        project: &str,
        api: &str,
        result: Result<T, Failure>,
    ) -> Result<Option<T>, Failure> {
        match result {
            Ok(v) => Ok(Some(v)),
            Err(Failure::Api { reason }) => {
                self.not_scanned
                    .push(not_scanned(project, None, api, reason));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Aggregated lists name the zones or regions they could not reach.
    fn note_unreachable(&mut self, project: &str, api: &str, gaps: &[String]) {
        for text in gaps {
            // `zones/us-east1-b` or `zones/us-east1-b: UNREACHABLE: …`
            let (scope, detail) = text
                .split_once(": ")
                .unwrap_or((text.as_str(), "unreachable"));
            let region = region_of(scope);
            self.not_scanned.push(not_scanned(
                project,
                region,
                api,
                format!("{scope} could not be read: {detail}"),
            ));
        }
    }
}

/// `zones/us-east1-b` → `us-east1`; `regions/us-east1` → `us-east1`.
fn region_of(scope: &str) -> Option<String> {
    if let Some(zone) = scope.strip_prefix("zones/") {
        return Some(zone.rsplit_once('-').map_or(zone, |(r, _)| r).to_string());
    }
    scope.strip_prefix("regions/").map(str::to_string)
}

fn to_value<T: Serialize>(v: &T) -> Value {
    // The Compute model types serialize to their REST JSON; this cannot fail.
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Reads every page of a listing. `fetch(token)` returns the next token and the page's JSON.
async fn list_pages<F, Fut>(caller: &Caller, what: &str, fetch: F) -> Result<Vec<Value>, Failure>
where
    F: Fn(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Option<String>, Value), google_cloud_gax::error::Error>>,
{
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let label = if pages.is_empty() {
            what.to_string()
        } else {
            format!("{what} (page {})", pages.len() + 1)
        };
        let (next, page) = caller.call(&label, || fetch(token.clone())).await?;
        pages.push(page);
        match next.filter(|t| !t.is_empty()) {
            // A server that repeats a token would loop forever; stop at the repeat.
            Some(t) if token.as_deref() != Some(t.as_str()) => token = Some(t),
            _ => return Ok(pages),
        }
    }
}

/// `{"kind", "items": [...]}` with the items of every page, in order.
fn list_document(kind: &str, pages: Vec<Value>) -> Value {
    let mut items = Vec::new();
    for mut page in pages {
        if let Some(Value::Array(page_items)) = page.get_mut("items").map(Value::take) {
            items.extend(page_items);
        }
    }
    json!({"kind": kind, "items": items})
}

/// `{"kind", "items": {scope: {field: [...]}}}` with every page's entries merged by scope.
/// Scopes with nothing in them are left out. Also returns the scopes that could not be read
/// (`unreachables`, and scope warnings other than `NO_RESULTS_ON_PAGE`) as
/// `"zones/x"` or `"zones/x: CODE: message"`, for the collector to record as not scanned.
fn aggregated_document(kind: &str, pages: Vec<Value>) -> (Value, Vec<String>) {
    let mut items = Map::new();
    let mut unreachables = Vec::new();
    for mut page in pages {
        if let Some(Value::Array(u)) = page.get_mut("unreachables").map(Value::take) {
            unreachables.extend(u.iter().filter_map(Value::as_str).map(str::to_string));
        }
        let Some(Value::Object(scopes)) = page.get_mut("items").map(Value::take) else {
            continue;
        };
        for (scope, entry) in scopes {
            let Value::Object(entry) = entry else {
                continue;
            };
            for (field, list) in entry {
                match list {
                    Value::Array(list) if !list.is_empty() => {
                        let slot = items
                            .entry(scope.clone())
                            .or_insert_with(|| json!({}))
                            .as_object_mut()
                            .map(|o| o.entry(field).or_insert_with(|| json!([])));
                        if let Some(Value::Array(existing)) = slot {
                            existing.extend(list);
                        }
                    }
                    Value::Object(w) if field == "warning" => {
                        let code = w.get("code").and_then(Value::as_str).unwrap_or("UNKNOWN");
                        if code != "NO_RESULTS_ON_PAGE" {
                            let message = w.get("message").and_then(Value::as_str).unwrap_or("");
                            unreachables.push(format!("{scope}: {code}: {message}"));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    (json!({"kind": kind, "items": items}), unreachables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_aggregated_pages_by_scope() {
        let pages = vec![
            json!({"items": {"zones/a": {"instances": [{"name": "i1"}]},
                             "zones/b": {"warning": {"code": "NO_RESULTS_ON_PAGE"}},
                             "zones/e": {"warning": {"code": "UNREACHABLE", "message": "down"}}},
                   "nextPageToken": "t"}),
            json!({"items": {"zones/a": {"instances": [{"name": "i2"}]},
                             "zones/c": {"instances": [{"name": "i3"}]}},
                   "unreachables": ["zones/d"]}),
        ];
        let (doc, gaps) = aggregated_document("compute#instanceAggregatedList", pages);
        assert_eq!(
            doc,
            json!({"kind": "compute#instanceAggregatedList",
                   "items": {"zones/a": {"instances": [{"name": "i1"}, {"name": "i2"}]},
                             "zones/c": {"instances": [{"name": "i3"}]}}})
        );
        assert_eq!(gaps, ["zones/e: UNREACHABLE: down", "zones/d"]);
    }

    #[test]
    fn regions_of_scopes() {
        assert_eq!(region_of("zones/us-east1-b").as_deref(), Some("us-east1"));
        assert_eq!(
            region_of("regions/europe-west4").as_deref(),
            Some("europe-west4")
        );
        assert_eq!(region_of("global"), None);
    }

    #[test]
    fn merges_list_pages_in_order() {
        let pages = vec![
            json!({"items": [{"name": "a"}], "nextPageToken": "t"}),
            json!({"kind": "compute#firewallList"}),
            json!({"items": [{"name": "b"}]}),
        ];
        assert_eq!(
            list_document("compute#firewallList", pages),
            json!({"kind": "compute#firewallList", "items": [{"name": "a"}, {"name": "b"}]})
        );
    }
}
