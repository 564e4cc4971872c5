//! The two shapes Azure listings come in, and how to tell what an item is.
//!
//! `az network … list` prints a top-level array of flattened objects; the ARM REST API prints
//! `{"value": [...], "nextLink"?}` with each object's fields under `properties`. Both carry `id`,
//! `name` and `type` at the top level, so one reader serves both: [`field`] looks under
//! `properties` first and then at the top level.

use crate::normalize::fields::{self, FieldError};
use crate::normalize::NormalizeError;
use serde_json::Value;

/// The kinds of object this normalizer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Nsg,
    Nic,
    VirtualNetwork,
    Subnet,
    RouteTable,
    Firewall,
    /// `az vm list`: only for the tags a NIC's findings carry.
    VirtualMachine,
    /// `az vmss list`: a Uniform scale set's model NIC configurations are targets.
    ScaleSet,
    /// Microsoft's service-tags file (`ServiceTags_Public_*.json`, `az network list-service-tags`).
    ServiceTags,
    /// `az network nsg rule list [--include-default]`: bare security rules, each attributed to its
    /// NSG by its `id` (`…/networkSecurityGroups/NSG/securityRules/RULE`).
    NsgRule,
    /// A listing of ARM resources of a type this normalizer does not read (`az network public-ip
    /// list`, `az network lb list`, …): skipped with a warning, never an error.
    OtherArm,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Nsg => "azure-nsg",
            Kind::Nic => "azure-nic",
            Kind::VirtualNetwork => "azure-vnet",
            Kind::Subnet => "azure-subnet",
            Kind::RouteTable => "azure-route-table",
            Kind::Firewall => "azure-firewall",
            Kind::VirtualMachine => "azure-vm",
            Kind::ScaleSet => "azure-vmss",
            Kind::ServiceTags => "azure-service-tags",
            Kind::NsgRule => "azure-nsg-rule",
            Kind::OtherArm => "azure-other",
        }
    }

    pub fn from_str(s: &str) -> Option<Kind> {
        [
            Kind::Nsg,
            Kind::Nic,
            Kind::VirtualNetwork,
            Kind::Subnet,
            Kind::RouteTable,
            Kind::Firewall,
            Kind::VirtualMachine,
            Kind::ScaleSet,
            Kind::ServiceTags,
            Kind::NsgRule,
            Kind::OtherArm,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// The items of a listing: the CLI's top-level array or the REST `value` array; or the one
/// object that `az network nsg show`, `az network nic show`, `az vm show`, … (and a REST GET of one
/// resource) print, when it is an object of a kind read here.
pub fn items(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Array(a) => Some(a),
        Value::Object(o) => match o.get("value") {
            Some(items) => items.as_array().map(Vec::as_slice),
            // `az graph query` (Azure Resource Graph): `{"count", "data": [...], "skip_token",
            // "total_records"}`, each row an ARM resource in the REST shape.
            None if is_graph_result(v) => {
                o.get("data").and_then(Value::as_array).map(Vec::as_slice)
            }
            None => item_kind(v).map(|_| std::slice::from_ref(v)),
        },
        _ => None,
    }
}

/// A field of an object in either shape: under `properties` (REST) or at the top level (CLI).
/// Names compare case-insensitively when the exact one is missing: the CLI's SDK-based commands
/// (`az vm list`, `az vmss list`, and `az network …` before its move to raw ARM JSON) camel-case
/// the SDK's attribute names (`privateIpAddress`, `privateIpAddressVersion`,
/// `enableIpForwarding`) where ARM writes `privateIPAddress`.
pub fn field<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    let get = |o: &'a Value| -> Option<&'a Value> {
        let m = o.as_object()?;
        m.get(name)
            .or_else(|| {
                m.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .filter(|v| !v.is_null())
    };
    obj.get("properties").and_then(get).or_else(|| get(obj))
}

/// A field that, when present, must be an array (absent or `null` is an empty list).
pub fn array_field<'a>(obj: &'a Value, name: &str, what: &str) -> Result<&'a [Value], FieldError> {
    fields::as_list(field(obj, name), name, what)
}

/// A field that, when present, must be a string.
pub fn opt_str<'a>(obj: &'a Value, name: &str, what: &str) -> Result<Option<&'a str>, FieldError> {
    fields::as_opt_str(field(obj, name), name, what)
}

/// A required string field.
pub fn req_str<'a>(obj: &'a Value, name: &str, what: &str) -> Result<&'a str, FieldError> {
    opt_str(obj, name, what)?.ok_or_else(|| FieldError::missing(what, name, "a string"))
}

/// The `id` of a reference object such as `"networkSecurityGroup": {"id": "…"}`.
pub fn ref_id<'a>(obj: &'a Value, name: &str, what: &str) -> Result<Option<&'a str>, FieldError> {
    match field(obj, name) {
        None => Ok(None),
        Some(r @ Value::Object(_)) => fields::as_opt_str(r.get("id"), &format!("{name}.id"), what),
        Some(other) => Err(FieldError::wrong_type(
            what,
            name,
            "an object with an `id`",
            other,
        )),
    }
}

/// The ids of a list of reference objects such as `"subnets": [{"id": "…"}]`.
pub fn ref_ids<'a>(obj: &'a Value, name: &str, what: &str) -> Result<Vec<&'a str>, FieldError> {
    let mut out = Vec::new();
    for (i, r) in array_field(obj, name, what)?.iter().enumerate() {
        let at = format!("{name}[{i}].id");
        let id = fields::as_opt_str(r.get("id"), &at, what)?;
        out.push(id.ok_or_else(|| FieldError::missing(what, &at, "a string"))?);
    }
    Ok(out)
}

/// An object's `name`, or the last segment of its `id` when the name is missing.
pub fn name_of<'a>(item: &'a Value, noun: &str) -> Result<&'a str, NormalizeError> {
    if let Some(n) = item.get("name").and_then(Value::as_str) {
        return Ok(n);
    }
    match item.get("id").and_then(Value::as_str) {
        Some(id) if !id_name(id).is_empty() => Ok(id_name(id)),
        _ => Err(format!("a {noun} has neither a string `name` nor an `id`").into()),
    }
}

/// Tags as key → value (non-string values are written as JSON).
pub fn tags(obj: &Value) -> std::collections::BTreeMap<String, String> {
    obj.get("tags")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// ARM ids compare case-insensitively; this is the form used as a map key.
pub fn id_key(id: &str) -> String {
    id.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// The last segment of an ARM id (the resource's name).
pub fn id_name(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

/// The subscription of an ARM id.
pub fn subscription(id: &str) -> Option<String> {
    let mut parts = id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("subscriptions") {
            return parts.next().filter(|s| !s.is_empty()).map(str::to_string);
        }
    }
    None
}

/// Which kind of object one listing item is: by `type`, else by the provider path in its `id`,
/// else by fields only that kind has.
pub fn item_kind(item: &Value) -> Option<Kind> {
    if !item.is_object() {
        return None;
    }
    if let Some(t) = item.get("type").and_then(Value::as_str) {
        if let Some(k) = kind_of_type(t) {
            return Some(k);
        }
    }
    if let Some(id) = item.get("id").and_then(Value::as_str) {
        if let Some(k) = kind_of_id(id) {
            return Some(k);
        }
    }
    // GCP items carry `kind: "compute#…"`; never claim them.
    if item.get("kind").is_some() {
        return None;
    }
    let has = |f: &str| field(item, f).is_some();
    if has("securityRules") || has("defaultSecurityRules") {
        Some(Kind::Nsg)
    } else if has("direction") && has("access") && has("priority") && has("protocol") {
        Some(Kind::NsgRule)
    } else if has("addressSpace") {
        Some(Kind::VirtualNetwork)
    } else if has("routes") && (has("disableBgpRoutePropagation") || has("subnets")) {
        Some(Kind::RouteTable)
    } else if has("ipConfigurations")
        && (has("macAddress") || has("virtualMachine") || has("enableIPForwarding"))
    {
        Some(Kind::Nic)
    } else if has("ipConfigurations") && (has("threatIntelMode") || has("firewallPolicy")) {
        Some(Kind::Firewall)
    } else if has("virtualMachineProfile") {
        Some(Kind::ScaleSet)
    } else if has("networkProfile") && (has("hardwareProfile") || has("storageProfile")) {
        Some(Kind::VirtualMachine)
    } else {
        None
    }
}

/// The kind a REST list URL (`…/providers/Microsoft.Network/routeTables?api-version=…`) lists.
pub fn kind_of_link(url: &str) -> Option<Kind> {
    let path = url.split('?').next()?;
    let last = path.trim_end_matches('/').rsplit('/').next()?;
    kind_of_type(&format!("microsoft.network/{last}"))
        .or_else(|| kind_of_type(&format!("microsoft.compute/{last}")))
        .or_else(|| last.eq_ignore_ascii_case("subnets").then_some(Kind::Subnet))
        .or_else(|| {
            (last.eq_ignore_ascii_case("securityRules")
                || last.eq_ignore_ascii_case("defaultSecurityRules"))
            .then_some(Kind::NsgRule)
        })
}

/// The ARM `type` of an item whose type this normalizer does not read (`Microsoft.Network/
/// publicIPAddresses`), when its `id` is an ARM id too.
pub fn other_arm_type(item: &Value) -> Option<&str> {
    let t = item.get("type").and_then(Value::as_str)?;
    let id = item.get("id").and_then(Value::as_str)?;
    let arm = t
        .get(..10)
        .is_some_and(|p| p.eq_ignore_ascii_case("microsoft."))
        && t.contains('/')
        && id.to_ascii_lowercase().starts_with("/subscriptions/");
    (arm && kind_of_type(t).is_none()).then_some(t)
}

fn kind_of_type(t: &str) -> Option<Kind> {
    let t = t.to_ascii_lowercase();
    Some(match t.as_str() {
        "microsoft.network/networksecuritygroups" => Kind::Nsg,
        "microsoft.network/networksecuritygroups/securityrules"
        | "microsoft.network/networksecuritygroups/defaultsecurityrules" => Kind::NsgRule,
        "microsoft.network/networkinterfaces" => Kind::Nic,
        "microsoft.network/virtualnetworks" => Kind::VirtualNetwork,
        "microsoft.network/virtualnetworks/subnets" => Kind::Subnet,
        "microsoft.network/routetables" => Kind::RouteTable,
        "microsoft.network/azurefirewalls" => Kind::Firewall,
        "microsoft.compute/virtualmachines" => Kind::VirtualMachine,
        "microsoft.compute/virtualmachinescalesets" => Kind::ScaleSet,
        _ => return None,
    })
}

fn kind_of_id(id: &str) -> Option<Kind> {
    let id = id.to_ascii_lowercase();
    if let Some((_, path)) = id.split_once("/providers/microsoft.compute/virtualmachines/") {
        return (!path.is_empty() && !path.contains('/')).then_some(Kind::VirtualMachine);
    }
    if let Some((_, path)) = id.split_once("/providers/microsoft.compute/virtualmachinescalesets/")
    {
        return (!path.is_empty() && !path.contains('/')).then_some(Kind::ScaleSet);
    }
    let (_, path) = id.split_once("/providers/microsoft.network/")?;
    let segs: Vec<&str> = path.split('/').collect();
    match segs.as_slice() {
        ["networksecuritygroups", _] => Some(Kind::Nsg),
        ["networksecuritygroups", _, "securityrules" | "defaultsecurityrules", _] => {
            Some(Kind::NsgRule)
        }
        ["networkinterfaces", _] => Some(Kind::Nic),
        ["virtualnetworks", _] => Some(Kind::VirtualNetwork),
        ["virtualnetworks", _, "subnets", _] => Some(Kind::Subnet),
        ["routetables", _] => Some(Kind::RouteTable),
        ["azurefirewalls", _] => Some(Kind::Firewall),
        _ => None,
    }
}

/// Microsoft's service-tags file: `{"values": [{"name", "properties": {"addressPrefixes"}}]}`.
pub fn is_service_tags(v: &Value) -> bool {
    v.get("values")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .is_some_and(|t| {
            t.get("name").is_some_and(Value::is_string)
                && t.get("properties")
                    .and_then(|p| p.get("addressPrefixes"))
                    .is_some()
        })
}

/// The NSG a security rule belongs to, and whether the rule is one of Azure's default rules, from
/// the rule's ARM `id` (`…/networkSecurityGroups/NSG/securityRules/RULE` or
/// `…/defaultSecurityRules/RULE`), or from its `type` for the second.
pub fn rule_parent(rule: &Value) -> Option<(&str, bool)> {
    let id = rule
        .get("id")
        .and_then(Value::as_str)?
        .trim_end_matches('/');
    let lower = id.to_ascii_lowercase();
    for (seg, default) in [("/securityrules/", false), ("/defaultsecurityrules/", true)] {
        if let Some(at) = lower.rfind(seg) {
            let parent = &id[..at];
            if kind_of_id(parent) == Some(Kind::Nsg) {
                return Some((parent, default));
            }
        }
    }
    None
}

/// The output of `az graph query`: a `data` array next to `count` / `total_records`.
pub fn is_graph_result(v: &Value) -> bool {
    v.get("data").is_some_and(Value::is_array)
        && ["count", "total_records", "totalRecords"]
            .iter()
            .any(|k| v.get(*k).is_some_and(Value::is_number))
}

/// The continuation token of an `az graph query` page: more rows than this page holds.
pub fn graph_skip_token(v: &Value) -> Option<&str> {
    if !is_graph_result(v) {
        return None;
    }
    ["skip_token", "skipToken", "$skipToken"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .filter(|t| !t.is_empty())
}
