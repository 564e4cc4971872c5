//! A GCP network's proposal: `gcloud compute firewall-rules create` commands and
//! `google_compute_firewall` resources, each allow and keep rule limited to the instances it is
//! for (`--target-tags` / `target_tags`, else `--target-service-accounts`), or saying why it
//! applies to the whole network.

use super::{header, range_text, tf_name, Rendered};
use crate::model::space::{ICMP, ICMPV6};
use crate::propose::patch::{Planned, Purpose};
use crate::propose::Proposal;

fn rules(pl: &Planned) -> (String, Option<Vec<String>>) {
    let proto = match pl.protocol {
        None => "all".to_string(),
        Some(6) => "tcp".into(),
        Some(17) => "udp".into(),
        Some(132) => "sctp".into(),
        Some(ICMP) => "icmp".into(),
        Some(ICMPV6) => "58".into(),
        Some(x) => x.to_string(),
    };
    let ports = (!pl.ports.is_empty() && matches!(pl.protocol, Some(6 | 17 | 132)))
        .then(|| pl.ports.iter().map(|r| range_text(*r)).collect());
    (proto, ports)
}

fn tf_list(v: &[String]) -> String {
    v.iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `# ea-net-allow-1: applies to instances tagged web (needed by …)`.
fn scope_comment(pl: &Planned) -> String {
    pl.scope
        .as_ref()
        .map(|s| format!("# {}: applies to {}\n", pl.name, s.describe()))
        .unwrap_or_default()
}

/// The gcloud flags and Terraform lines that limit a rule to its instances.
fn targets(pl: &Planned) -> (String, String) {
    let Some(s) = &pl.scope else {
        return (String::new(), String::new());
    };
    if !s.target_tags.is_empty() {
        (
            format!(" --target-tags={}", s.target_tags.join(",")),
            format!("  target_tags        = [{}]\n", tf_list(&s.target_tags)),
        )
    } else if !s.target_service_accounts.is_empty() {
        (
            format!(
                " --target-service-accounts={}",
                s.target_service_accounts.join(",")
            ),
            format!(
                "  target_service_accounts = [{}]\n",
                tf_list(&s.target_service_accounts)
            ),
        )
    } else {
        (String::new(), String::new())
    }
}

pub(super) fn render(p: &Proposal) -> Rendered {
    let project = p
        .account
        .as_ref()
        .map(|a| format!(" --project={a}"))
        .unwrap_or_default();
    let mut cli = header(p);
    let mut tf = header(p);
    for pl in &p.planned {
        let action = if pl.purpose == Purpose::Deny {
            "DENY"
        } else {
            "ALLOW"
        };
        let (proto, ports) = rules(pl);
        let rules = match &ports {
            Some(ps) => format!("{proto}:{}", ps.join(",")),
            None => proto.clone(),
        };
        let (flags, tf_targets) = targets(pl);
        let comment = scope_comment(pl);
        cli.push_str(&comment);
        cli.push_str(&format!(
            "gcloud compute firewall-rules create {}{project} --network={} --direction=EGRESS \
             --action={action} --rules={rules} --destination-ranges={} --priority={}{flags}\n",
            pl.name,
            p.resource,
            pl.destinations.join(","),
            pl.priority.unwrap_or(1000)
        ));
        let block = if pl.purpose == Purpose::Deny {
            "deny"
        } else {
            "allow"
        };
        let ports_line = ports
            .map(|ps| format!("\n    ports    = [{}]", tf_list(&ps)))
            .unwrap_or_default();
        tf.push_str(&comment);
        tf.push_str(&format!(
            "resource \"google_compute_firewall\" \"{}\" {{\n  name               = \"{}\"\n  network            = \"{}\"\n  direction          = \"EGRESS\"\n  priority           = {}\n  destination_ranges = [{}]\n{tf_targets}  {block} {{\n    protocol = \"{proto}\"{ports_line}\n  }}\n}}\n",
            tf_name(&pl.name),
            pl.name,
            p.resource,
            pl.priority.unwrap_or(1000),
            tf_list(&pl.destinations)
        ));
    }
    for r in &p.removed_rules {
        cli.push_str(&format!(
            "gcloud compute firewall-rules delete {}{project} --quiet\n",
            r.name
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
