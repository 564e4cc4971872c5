//! A proposal in the provider's own form: AWS CLI commands and `IpPermissions` JSON,
//! `az network nsg rule create`, `gcloud compute firewall-rules create`, and Terraform resources.

mod gcp;

use super::patch::{Planned, Purpose};
use super::{Proposal, UnitKind};
use crate::model::space::{parse_proto, ICMP, ICMPV6};
use crate::model::Rule;
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Clone, Debug, Default, Serialize)]
pub struct Rendered {
    /// The provider CLI's commands, in the order to run them (new rules first, then removals).
    pub cli: String,
    /// AWS: the `IpPermissions` JSON of the new rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_permissions: Option<Value>,
    pub terraform: String,
}

pub fn render(p: &Proposal) -> Rendered {
    match p.kind {
        UnitKind::SecurityGroup => aws(p),
        UnitKind::Nsg => azure(p),
        UnitKind::VpcNetwork => gcp::render(p),
    }
}

fn header(p: &Proposal) -> String {
    let mut h = format!(
        "# {} {}: {} new rule(s) replace its public egress; applies to {}\n# {}\n",
        kind_word(p.kind),
        p.resource,
        p.planned.len(),
        p.targets.join(", "),
        p.budget
    );
    if !p.verified {
        h.push_str("# NOT VERIFIED by the engine: do not apply (see problems)\n");
    }
    h
}

fn kind_word(k: UnitKind) -> &'static str {
    match k {
        UnitKind::SecurityGroup => "security group",
        UnitKind::Nsg => "NSG",
        UnitKind::VpcNetwork => "VPC network",
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn range_text((lo, hi): (u32, u32)) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    }
}

fn aws_proto(p: Option<u8>) -> String {
    match p {
        None => "-1".into(),
        Some(6) => "tcp".into(),
        Some(17) => "udp".into(),
        Some(ICMP) => "icmp".into(),
        Some(ICMPV6) => "icmpv6".into(),
        Some(x) => x.to_string(),
    }
}

/// FromPort / ToPort: ports for tcp/udp, type and code for icmp (`-1` = any code).
fn aws_ports(p: Option<u8>, ports: &[(u32, u32)]) -> Option<(i64, i64)> {
    let &(lo, hi) = ports.first()?;
    Some(match p {
        Some(ICMP | ICMPV6) if lo % 256 == 0 && hi == lo + 255 => (i64::from(lo / 256), -1),
        Some(ICMP | ICMPV6) => (i64::from(lo / 256), i64::from(lo % 256)),
        _ => (i64::from(lo), i64::from(hi)),
    })
}

fn description(pl: &Planned) -> &'static str {
    match pl.purpose {
        Purpose::Allow => "egress-audit: observed egress",
        Purpose::Keep => "egress-audit: non-public part of a replaced rule",
        Purpose::Deny => "egress-audit: deny other public egress",
    }
}

fn aws_permission(pl: &Planned) -> Value {
    let mut perm = json!({"IpProtocol": aws_proto(pl.protocol)});
    if let Some((from, to)) = aws_ports(pl.protocol, &pl.ports) {
        perm["FromPort"] = json!(from);
        perm["ToPort"] = json!(to);
    }
    let (v6, v4): (Vec<&String>, Vec<&String>) =
        pl.destinations.iter().partition(|d| d.contains(':'));
    let desc = description(pl);
    perm["IpRanges"] = v4
        .iter()
        .map(|c| json!({"CidrIp": c, "Description": desc}))
        .collect();
    perm["Ipv6Ranges"] = v6
        .iter()
        .map(|c| json!({"CidrIpv6": c, "Description": desc}))
        .collect();
    perm
}

/// An existing permission as `revoke-security-group-egress` needs it, from the rule as written.
fn aws_revoke(r: &Rule) -> Value {
    let proto = parse_proto(&r.protocol).ok().flatten();
    let mut perm = json!({"IpProtocol": aws_proto(proto)});
    let ports = r.ports.trim();
    if let Some(rest) = ports.strip_prefix("type ") {
        let (t, c) = match rest.split_once(" code ") {
            Some((t, c)) => (
                t.parse::<i64>().unwrap_or(-1),
                c.parse::<i64>().unwrap_or(-1),
            ),
            None => (rest.parse::<i64>().unwrap_or(-1), -1),
        };
        perm["FromPort"] = json!(t);
        perm["ToPort"] = json!(c);
    } else if ports != "all" {
        let (lo, hi) = ports.split_once('-').unwrap_or((ports, ports));
        perm["FromPort"] = json!(lo.parse::<i64>().unwrap_or(-1));
        perm["ToPort"] = json!(hi.parse::<i64>().unwrap_or(-1));
    }
    let d = r.destination.trim();
    if d.starts_with("pl-") {
        perm["PrefixListIds"] = json!([{"PrefixListId": d}]);
    } else if d.contains(':') {
        perm["Ipv6Ranges"] = json!([{"CidrIpv6": d}]);
    } else {
        perm["IpRanges"] = json!([{"CidrIp": d}]);
    }
    perm
}

fn aws(p: &Proposal) -> Rendered {
    let region = p
        .region
        .as_ref()
        .map(|r| format!(" --region {r}"))
        .unwrap_or_default();
    let perms: Vec<Value> = p.planned.iter().map(aws_permission).collect();
    let mut cli = header(p);
    if !perms.is_empty() {
        cli.push_str(&format!(
            "aws ec2 authorize-security-group-egress{region} --group-id {} --ip-permissions {}\n",
            p.resource,
            quote(&Value::Array(perms.clone()).to_string())
        ));
    }
    // Rules read from `describe-security-group-rules` are revoked by their id.
    let (by_id, by_perm): (Vec<&Rule>, Vec<&Rule>) = p
        .removed_rules
        .iter()
        .partition(|r| r.name.contains(" egress sgr-"));
    if !by_perm.is_empty() {
        let revoke: Vec<Value> = by_perm.iter().map(|r| aws_revoke(r)).collect();
        cli.push_str(&format!(
            "aws ec2 revoke-security-group-egress{region} --group-id {} --ip-permissions {}\n",
            p.resource,
            quote(&Value::Array(revoke).to_string())
        ));
    }
    if !by_id.is_empty() {
        let ids: Vec<&str> = by_id
            .iter()
            .filter_map(|r| r.name.split(" egress ").nth(1))
            .map(|s| s.split_whitespace().next().unwrap_or(s))
            .collect();
        cli.push_str(&format!(
            "aws ec2 revoke-security-group-egress{region} --group-id {} --security-group-rule-ids {}\n",
            p.resource,
            ids.join(" ")
        ));
    }
    let mut tf = header(p);
    if !p.removes.is_empty() {
        tf.push_str(&format!(
            "# remove from your configuration: {}\n",
            p.removes.join("; ")
        ));
    }
    let base = tf_name(&p.resource);
    for (i, pl) in p.planned.iter().enumerate() {
        for (j, d) in pl.destinations.iter().enumerate() {
            let family = if d.contains(':') {
                "cidr_ipv6"
            } else {
                "cidr_ipv4"
            };
            let ports = aws_ports(pl.protocol, &pl.ports)
                .map(|(f, t)| format!("  from_port         = {f}\n  to_port           = {t}\n"))
                .unwrap_or_default();
            tf.push_str(&format!(
                "resource \"aws_vpc_security_group_egress_rule\" \"{base}_ea_{}_{}\" {{\n  security_group_id = \"{}\"\n  ip_protocol       = \"{}\"\n{ports}  {family:<17} = \"{d}\"\n  description       = \"{}\"\n}}\n",
                i + 1,
                j + 1,
                p.resource,
                aws_proto(pl.protocol),
                description(pl)
            ));
        }
    }
    Rendered {
        cli,
        ip_permissions: Some(Value::Array(perms)),
        terraform: tf,
    }
}

fn tf_name(s: &str) -> String {
    let short = s.rsplit('/').next().unwrap_or(s);
    short
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Resource group and NSG name from an NSG resource id.
fn azure_names(id: &str) -> (String, String) {
    let parts: Vec<&str> = id.split('/').collect();
    let rg = parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("resourceGroups"))
        .and_then(|i| parts.get(i + 1))
        .map_or("RESOURCE_GROUP".to_string(), |s| s.to_string());
    (rg, parts.last().unwrap_or(&id).to_string())
}

fn azure_proto(p: Option<u8>) -> &'static str {
    match p {
        Some(6) => "Tcp",
        Some(17) => "Udp",
        Some(ICMP | ICMPV6) => "Icmp",
        Some(50) => "Esp",
        Some(51) => "Ah",
        _ => "*",
    }
}

fn port_list(pl: &Planned) -> Vec<String> {
    if pl.ports.is_empty() || matches!(pl.protocol, Some(ICMP | ICMPV6)) {
        vec!["*".into()]
    } else {
        pl.ports.iter().map(|r| range_text(*r)).collect()
    }
}

fn rule_short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn azure(p: &Proposal) -> Rendered {
    let (rg, nsg) = azure_names(&p.resource);
    let mut cli = header(p);
    let mut tf = header(p);
    for pl in &p.planned {
        let access = if pl.purpose == Purpose::Deny {
            "Deny"
        } else {
            "Allow"
        };
        let ports = port_list(pl);
        cli.push_str(&format!(
            "az network nsg rule create --resource-group {rg} --nsg-name {nsg} --name {} --priority {} \
             --direction Outbound --access {access} --protocol {} --source-address-prefixes '*' \
             --source-port-ranges '*' --destination-address-prefixes {} --destination-port-ranges {}\n",
            rule_short(&pl.name),
            pl.priority.unwrap_or(0),
            quote(azure_proto(pl.protocol)),
            pl.destinations.join(" "),
            ports.iter().map(|s| quote(s)).collect::<Vec<_>>().join(" ")
        ));
        let list = |v: &[String]| {
            v.iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        tf.push_str(&format!(
            "resource \"azurerm_network_security_rule\" \"{}\" {{\n  name                         = \"{}\"\n  priority                     = {}\n  direction                    = \"Outbound\"\n  access                       = \"{access}\"\n  protocol                     = \"{}\"\n  source_port_range            = \"*\"\n  source_address_prefix        = \"*\"\n  destination_port_ranges      = [{}]\n  destination_address_prefixes = [{}]\n  resource_group_name          = \"{rg}\"\n  network_security_group_name  = \"{nsg}\"\n}}\n",
            tf_name(&pl.name),
            rule_short(&pl.name),
            pl.priority.unwrap_or(0),
            azure_proto(pl.protocol),
            list(&ports),
            list(&pl.destinations)
        ));
    }
    for r in &p.removed_rules {
        cli.push_str(&format!(
            "az network nsg rule delete --resource-group {rg} --nsg-name {nsg} --name {}\n",
            quote(rule_short(&r.name))
        ));
    }
    if !p.removes.is_empty() {
        tf.push_str(&format!(
            "# remove from your configuration: {}\n",
            p.removes.join("; ")
        ));
    }
    Rendered {
        cli,
        ip_permissions: None,
        terraform: tf,
    }
}

/// Every verified proposal's Terraform; unverified ones as comments only.
pub fn terraform(proposals: &[Proposal]) -> String {
    let mut out = String::new();
    for p in proposals {
        if p.verified {
            out.push_str(&p.rendered.terraform);
        } else {
            out.push_str(&header(p));
            for pr in &p.problems {
                out.push_str(&format!("#   {pr}\n"));
            }
        }
        out.push('\n');
    }
    out
}

/// The proposals for people: what each allows, what it would block, the commands.
pub fn text(proposals: &[Proposal], a: &crate::flows::Analysis) -> String {
    let mut out = format!(
        "{} proposal(s) from flows observed {} – {} ({}-day window)\n\n",
        proposals.len(),
        crate::flows::coverage::time(a.window.start),
        crate::flows::coverage::time(a.window.end),
        a.window.days
    );
    for p in proposals {
        out.push_str(&format!(
            "== {} {} ({}) — {}\n",
            kind_word(p.kind),
            p.resource,
            p.provider,
            if p.verified {
                "verified by the engine: every class below is allowed, EG001–EG005 do not fire"
            } else {
                "NOT VERIFIED"
            }
        ));
        out.push_str(&format!(
            "targets: {}\n{}\n",
            p.targets.join(", "),
            p.budget
        ));
        if !p.targets_without_flows.is_empty() {
            out.push_str(&format!(
                "targets without flow data for the whole window (their other traffic would be blocked): {}\n",
                p.targets_without_flows.join(", ")
            ));
        }
        for c in &p.allows_classes {
            out.push_str(&format!(
                "  allows  {} from {} ({}, {} flows)\n",
                c.traffic,
                c.target_id,
                c.status.as_str(),
                c.flows
            ));
        }
        for c in &p.blocks {
            out.push_str(&format!(
                "  BLOCKS  {} from {} ({}{}, {} flows)\n",
                c.traffic,
                c.target_id,
                c.status.as_str(),
                if c.checks.is_empty() {
                    String::new()
                } else {
                    format!(": {}", c.checks.join(", "))
                },
                c.flows
            ));
        }
        for c in &p.denied_elsewhere {
            out.push_str(&format!(
                "  denied today by rules outside this proposal: {} from {}\n",
                c.traffic, c.target_id
            ));
        }
        for pr in &p.problems {
            out.push_str(&format!("  problem: {pr}\n"));
        }
        if p.verified {
            out.push_str(&p.rendered.cli);
            if let Some(json) = &p.rendered.ip_permissions {
                out.push_str(&format!(
                    "# IpPermissions:\n{}\n",
                    serde_json::to_string_pretty(json).unwrap_or_default()
                ));
            }
        }
        out.push('\n');
    }
    out
}
