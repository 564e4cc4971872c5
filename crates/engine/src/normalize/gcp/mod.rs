//! GCP exports → targets.
//!
//! Reads `gcloud compute firewall-rules | instances | networks | networks subnets | routes list
//! --format=json`, `gcloud compute network-firewall-policies list | describe` and `gcloud compute
//! firewall-policies describe` (hierarchical), as gcloud's top-level arrays, as the Compute REST
//! list shape `{"items": [...], "nextPageToken"?}`, or as an aggregated list
//! (`{"items": {"zones/us-central1-a": {"instances": [...]}}}`). The kind of each resource comes
//! from its `kind` field (`compute#firewall`, …) or, when gcloud left it out, from the fields only
//! that kind has.

mod effective;
mod layers;
mod pages;
mod parse;
mod policy;
mod routes;
mod targets;
mod urls;

use super::{fields, DocContext, Inventory, NormalizeError, Options};
use crate::model::Warning;
use egress_audit_snapshot::{NotScanned, Provider};
use pages::Page;
use parse::{Firewall, Instance, Network, Route, Subnetwork};
use policy::Policy;
use serde_json::Value;
use std::collections::BTreeSet;

const FIREWALL: &str = "gcp-firewall";
const INSTANCE: &str = "gcp-instance";
const NETWORK: &str = "gcp-network";
const SUBNETWORK: &str = "gcp-subnetwork";
const ROUTE: &str = "gcp-route";
const POLICY: &str = "gcp-firewall-policy";
/// A `networks.getEffectiveFirewalls` response (`{"firewalls", "firewallPolicys", "network"?}`).
const EFFECTIVE: &str = "gcp-effective-firewalls";
/// An aggregated list whose every scope holds only a warning: a listing of nothing.
const EMPTY_AGGREGATE: &str = "gcp-empty-aggregated-list";

#[derive(Default, Debug)]
pub struct GcpBundle {
    firewalls: Vec<Firewall>,
    instances: Vec<Instance>,
    networks: Vec<Network>,
    subnetworks: Vec<Subnetwork>,
    routes: Vec<Route>,
    policies: Vec<Policy>,
    /// Route data was given (even an empty listing): a network without routes can be judged.
    routes_loaded: bool,
    /// Projects whose instances were listed (a network of one with no instance has no workload).
    instance_projects: BTreeSet<String>,
    /// An instance listing whose project is unknown was given.
    instances_loaded: bool,
    warnings: Vec<Warning>,
    not_scanned: Vec<NotScanned>,
    /// VPC rules and network policies from effective-firewalls responses: used for a network
    /// only when the firewall / policy listings do not have them.
    effective_firewalls: Vec<Firewall>,
    effective_policies: Vec<Policy>,
    /// REST list pages read, to tell a listing cut short from one whose pages were all given.
    pages: Vec<Page>,
}

/// The resource kind a `kind` value names.
fn kind_of(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "compute#firewall" | "compute#firewallList" => FIREWALL,
        "compute#instance" | "compute#instanceList" | "compute#instanceAggregatedList" => INSTANCE,
        "compute#network" | "compute#networkList" => NETWORK,
        "compute#subnetwork" | "compute#subnetworkList" | "compute#subnetworkAggregatedList" => {
            SUBNETWORK
        }
        "compute#route" | "compute#routeList" => ROUTE,
        "compute#firewallPolicy"
        | "compute#firewallPolicyList"
        | "compute#networkFirewallPolicyAggregatedList" => POLICY,
        _ => return None,
    })
}

/// The kind of one resource, from `kind` or from its characteristic fields.
fn item_kind(v: &Value) -> Option<&'static str> {
    let o = v.as_object()?;
    if let Some(k) = o.get("kind").and_then(Value::as_str) {
        return kind_of(k);
    }
    let has = |f: &str| o.contains_key(f);
    if has("network") && (has("allowed") || has("denied")) {
        Some(FIREWALL)
    } else if has("networkInterfaces") && (has("machineType") || has("zone")) {
        Some(INSTANCE)
    } else if has("destRange") && has("network") {
        Some(ROUTE)
    } else if has("ipCidrRange") && has("network") {
        Some(SUBNETWORK)
    } else if !has("network")
        && [
            "autoCreateSubnetworks",
            "x_gcloud_subnet_mode",
            "routingConfig",
            "subnetworks",
        ]
        .iter()
        .any(|f| has(f))
    {
        Some(NETWORK)
    } else if has("associations")
        || has("ruleTupleCount")
        || o.get("rules").and_then(Value::as_array).is_some_and(|r| {
            r.iter()
                .any(|x| x.get("match").is_some() && x.get("action").is_some())
        })
    {
        Some(POLICY)
    } else {
        None
    }
}

/// The scopes of an aggregated list: `{"zones/x": {"instances": [...]}, "zones/y": {"warning": …}}`.
fn scope_lists(
    m: &serde_json::Map<String, Value>,
) -> impl Iterator<Item = (&String, &String, &Vec<Value>)> {
    m.iter().flat_map(|(scope, sv)| {
        sv.as_object().into_iter().flat_map(move |o| {
            o.iter()
                .filter_map(move |(k, x)| x.as_array().map(|a| (scope, k, a)))
        })
    })
}

/// `items` as an object is the aggregated-list shape only: on a plain list (`compute#firewallList`)
/// or with keys that are not scopes (`zones/…`, `regions/…`, `global`) it is a damaged export,
/// and reading it as empty would pass for a project without resources.
fn check_scopes(
    doc: &serde_json::Map<String, Value>,
    m: &serde_json::Map<String, Value>,
) -> Result<(), NormalizeError> {
    if let Some(kind) = doc.get("kind").and_then(Value::as_str) {
        if !kind.ends_with("AggregatedList") {
            return Err(format!(
                "`items` must be a list in a {kind}, found an object (only aggregated lists group \
                 their items by scope)"
            )
            .into());
        }
    }
    let is_scope = |k: &str| k == "global" || k.starts_with("zones/") || k.starts_with("regions/");
    match m.keys().find(|k| !is_scope(k)) {
        Some(k) => Err(format!(
            "`items` has the key {k:?}, which is not a scope of an aggregated list (zones/…, \
             regions/…, global)"
        )
        .into()),
        None if m.is_empty() && doc.get("kind").is_none() => {
            Err("`items` is an empty object: neither a list nor an aggregated list's scopes".into())
        }
        None => Ok(()),
    }
}

impl GcpBundle {
    /// The kind of document, if this provider recognises it.
    pub fn detect(v: &Value) -> Option<&'static str> {
        match v {
            Value::Array(a) => a.first().and_then(item_kind),
            Value::Object(o) => {
                if let Some(k) = o.get("kind").and_then(Value::as_str) {
                    return kind_of(k);
                }
                if o.get("firewallPolicys").is_some_and(Value::is_array) {
                    return Some(EFFECTIVE);
                }
                // A network with no firewall policy: the response has only its VPC rules.
                if o.get("items").is_none()
                    && o.get("firewalls").is_some_and(Value::is_array)
                    && o.keys().all(|k| {
                        ["firewalls", "organizationFirewalls", "network"].contains(&k.as_str())
                    })
                {
                    return Some(EFFECTIVE);
                }
                match o.get("items") {
                    Some(Value::Array(a)) => a.first().and_then(item_kind),
                    Some(Value::Object(m)) => {
                        let mut lists = scope_lists(m).peekable();
                        if lists.peek().is_none()
                            && !m.is_empty()
                            && m.values().all(|s| s.get("warning").is_some())
                        {
                            return Some(EMPTY_AGGREGATE);
                        }
                        lists.find_map(|(_, _, a)| a.first().and_then(item_kind))
                    }
                    _ => item_kind(v),
                }
            }
            _ => None,
        }
    }

    /// Parses one document of a detected kind; an error names the object and field that is wrong.
    pub fn add_kind(
        &mut self,
        kind: &'static str,
        v: Value,
        ctx: &DocContext,
    ) -> Result<(), NormalizeError> {
        if kind == EFFECTIVE {
            return self.add_effective(&v, ctx);
        }
        let list_project = v
            .get("selfLink")
            .and_then(Value::as_str)
            .and_then(|s| urls::segment_after(s, "projects"))
            .map(str::to_string)
            .or_else(|| ctx.account.clone());
        if kind == INSTANCE {
            self.instances_loaded = true;
            self.instance_projects.extend(list_project.clone());
        }
        if kind == ROUTE {
            self.routes_loaded = true;
        }
        if v.get("items").is_some() || v.get("nextPageToken").is_some() {
            let more = v
                .get("nextPageToken")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty());
            self.pages.push(Page {
                kind,
                project: list_project.clone(),
                source: ctx.source.clone(),
                more,
            });
        }
        for (at, item) in self.items(&v, ctx)? {
            // A resource's own `kind` wins, so a mixed listing still reads right.
            let k = item_kind(item).unwrap_or(kind);
            self.add_item(k, item, &at, ctx)?;
        }
        Ok(())
    }

    /// The resources of a document, each with where it sits (`items[3]`).
    fn items<'a>(
        &mut self,
        v: &'a Value,
        ctx: &DocContext,
    ) -> Result<Vec<(String, &'a Value)>, NormalizeError> {
        let mut out = Vec::new();
        match v {
            Value::Array(a) => out.extend(a.iter().enumerate().map(|(i, x)| (format!("[{i}]"), x))),
            Value::Object(o) => match o.get("items") {
                Some(Value::Array(a)) => out.extend(
                    a.iter()
                        .enumerate()
                        .map(|(i, x)| (format!("items[{i}]"), x)),
                ),
                Some(Value::Object(m)) => {
                    check_scopes(o, m)?;
                    for (scope, sv) in m {
                        self.scope_warning(scope, sv, ctx);
                    }
                    for (scope, key, a) in scope_lists(m) {
                        out.extend(
                            a.iter()
                                .enumerate()
                                .map(|(i, x)| (format!("items[\"{scope}\"].{key}[{i}]"), x)),
                        );
                    }
                }
                Some(other) => {
                    return Err(format!(
                        "`items` must be a list or an object of scopes, found {}",
                        fields::type_name(other)
                    )
                    .into())
                }
                // A REST list without `items` is an empty page; a lone resource is itself.
                None if o
                    .get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.ends_with("List")) => {}
                None => out.push(("the document".to_string(), v)),
            },
            _ => {}
        }
        if let Some((at, x)) = out.iter().find(|(_, x)| !x.is_object()) {
            return Err(format!("{at} must be an object, found {}", fields::type_name(x)).into());
        }
        Ok(out)
    }

    /// An aggregated list's scope that could not be read is a gap in the scan.
    fn scope_warning(&mut self, scope: &str, sv: &Value, ctx: &DocContext) {
        let Some(w) = sv.get("warning") else { return };
        let code = w.get("code").and_then(Value::as_str).unwrap_or("UNKNOWN");
        if code == "NO_RESULTS_ON_PAGE" {
            return;
        }
        let message = w.get("message").and_then(Value::as_str).unwrap_or("");
        let region = scope
            .strip_prefix("zones/")
            .map(urls::zone_region)
            .or_else(|| scope.strip_prefix("regions/").map(str::to_string));
        self.not_scanned.push(NotScanned {
            provider: Provider::Gcp,
            account: ctx.account.clone(),
            region,
            scope: scope.to_string(),
            reason: format!("{code}: {message} (in {})", ctx.source),
        });
    }

    fn add_item(
        &mut self,
        kind: &str,
        item: &Value,
        at: &str,
        ctx: &DocContext,
    ) -> Result<(), NormalizeError> {
        match kind {
            FIREWALL => {
                let mut fw = parse::firewall(item, at)?;
                fw.project = fw.project.or_else(|| ctx.account.clone());
                self.firewalls.push(fw);
            }
            INSTANCE => {
                let mut inst = parse::instance(item, at)?;
                inst.project = inst.project.or_else(|| ctx.account.clone());
                self.instance_projects.extend(inst.project.clone());
                self.instances.push(inst);
            }
            NETWORK => {
                let mut n = parse::network(item, at)?;
                n.net.project = n.net.project.or_else(|| ctx.account.clone());
                self.networks.push(n);
            }
            SUBNETWORK => self.subnetworks.push(parse::subnetwork(item, at)?),
            ROUTE => {
                self.routes_loaded = true;
                self.routes.push(parse::route(item, at)?);
            }
            POLICY => {
                let mut p = policy::policy(item, at)?;
                p.project = p.project.or_else(|| ctx.account.clone());
                self.policies.push(p);
            }
            _ => {
                return Err(format!("{at} is a {kind}, which the GCP reader does not take").into())
            }
        }
        Ok(())
    }

    /// Builds targets from everything added.
    pub fn build(mut self, _opts: &Options, inv: &mut Inventory) {
        self.page_warnings();
        self.merge_effective();
        self.dedup();
        targets::build(self, inv);
    }
}
