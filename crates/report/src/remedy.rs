//! What to change for each root cause, in the provider's terms.

use super::cause::{Cause, CauseKind, LayerKindKey};
use egress_audit_engine::model::Evidence;

/// Rules named in a title; the rest are counted.
const MAX_RULES: usize = 3;

/// `sg-0abc egress #1 (all traffic to 0.0.0.0/0)`, `no default deny in nsg-web`.
pub fn title(c: &Cause) -> String {
    match c.kind {
        CauseKind::Rules(_) | CauseKind::Rule if c.rules.is_empty() => {
            format!("the rules of {}", c.holder)
        }
        CauseKind::Rules(_) | CauseKind::Rule => {
            let mut parts: Vec<String> = c.rules.iter().take(MAX_RULES).map(rule_text).collect();
            if c.rules.len() > MAX_RULES {
                parts.push(format!("{} more", c.rules.len() - MAX_RULES));
            }
            parts.join(" + ")
        }
        CauseKind::DefaultAllow(_) => format!("no default deny in {}", short_id(&c.holder)),
        CauseKind::NoFilter => format!("no filter on {}", short_id(&c.holder)),
        CauseKind::Observed => format!("observed leaving {}", short_id(&c.holder)),
    }
}

/// `sg-0abc egress #1 (all traffic to 0.0.0.0/0)`.
fn rule_text(e: &Evidence) -> String {
    let name = short_rule(&e.name);
    match what(e) {
        Some(w) => format!("{name} ({w})"),
        None => name,
    }
}

/// An Azure rule named by its full id as `NSG/rule`; other names as they are.
pub fn short_rule(rule: &str) -> String {
    match rule.strip_prefix("/subscriptions/") {
        Some(rest) => {
            let parts: Vec<&str> = rest.split('/').collect();
            let nsg = parts
                .iter()
                .position(|p| *p == "networkSecurityGroups")
                .and_then(|i| parts.get(i + 1));
            match (nsg, parts.last()) {
                (Some(nsg), Some(last)) => format!("{nsg}/{last}"),
                _ => rule.to_string(),
            }
        }
        None => rule.to_string(),
    }
}

/// `all traffic to 0.0.0.0/0`, `tcp 400-500 to 0.0.0.0/0`; `None` when the rule is only named.
fn what(e: &Evidence) -> Option<String> {
    if e.protocol.is_empty() {
        return None;
    }
    let line = super::evidence_line(e);
    // evidence_line is `ACTION RULE[ (priority N)]: WHAT`.
    line.split_once(": ").map(|(_, w)| w.to_string())
}

fn names(c: &Cause) -> String {
    c.rules
        .iter()
        .map(|e| format!("`{}`", short_rule(&e.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The change that closes the cause.
pub fn remediation(c: &Cause) -> String {
    let n = c.findings.len();
    let closes = format!(
        "closes {} on {}",
        super::plural(n, "finding"),
        super::plural(c.target_count, "target")
    );
    let rules = names(c);
    let holder = short_id(&c.holder);
    let holder = &holder;
    let text = match c.kind {
        CauseKind::Rules(LayerKindKey::SecurityGroup) => format!(
            "Security groups cannot deny: in {holder}, replace {rules} with an allow-list of \
             the ports and destinations the workload needs (for example tcp/443 to the service's \
             prefix list): `aws ec2 revoke-security-group-egress --group-id {holder} …`, then \
             `authorize-security-group-egress` per needed port and destination"
        ),
        CauseKind::Rules(LayerKindKey::NetworkAcl) => format!(
            "In network ACL {holder}, narrow or delete outbound entry {rules}, or add deny entries \
             with a lower rule number before it for what must not leave (the security groups on \
             the subnet's interfaces also decide: narrowing those closes it too)"
        ),
        CauseKind::Rules(LayerKindKey::Nsg) => format!(
            "In NSG {holder}, narrow {rules} to the destination prefixes or service tags and \
             ports the workload needs, or delete it; then add `Deny-Internet-Out` (priority 4096, \
             destination Internet, any protocol, Deny) so the default AllowInternetOutBound no \
             longer applies"
        ),
        CauseKind::Rules(LayerKindKey::VpcFirewall) => format!(
            "Narrow the EGRESS firewall rule {rules} (destinationRanges, allowed ports) to what \
             its target instances need, or delete it; and add an EGRESS deny for 0.0.0.0/0 at \
             priority 65534 so the implied allow never applies"
        ),
        CauseKind::Rules(LayerKindKey::FirewallPolicy) => format!(
            "In firewall policy {holder}, narrow rule {rules} or change its action to \
             `goto_next`/`deny`"
        ),
        CauseKind::Rules(LayerKindKey::Host) => format!(
            "In the host firewall, narrow {rules} in the output chain and set the chain's policy \
             to drop"
        ),
        CauseKind::Rules(_) => format!("Narrow or delete {rules} so that it allows only the ports and destinations the workload needs"),
        CauseKind::DefaultAllow(kind) => default_deny(kind, holder),
        CauseKind::NoFilter => format!(
            "{holder} has no security group, NSG or firewall: attach one that allows only what \
             the workload needs"
        ),
        CauseKind::Rule => rule_change(c),
        CauseKind::Observed => format!(
            "Traffic was seen leaving {holder}, so some control on its path allows it: find and \
             narrow it (the declared rules, if loaded, are listed per finding)"
        ),
    };
    format!("{text}: {closes}.")
}

fn default_deny(kind: LayerKindKey, holder: &str) -> String {
    match kind {
        LayerKindKey::Nsg => format!(
            "NSG {holder} relies on the default rule AllowInternetOutBound (65001): add an \
             outbound rule `Deny-Internet-Out` (priority 4096, destination Internet, any \
             protocol, Deny) and allow rules with lower priority numbers for what the workload \
             needs"
        ),
        LayerKindKey::VpcFirewall | LayerKindKey::FirewallPolicy => format!(
            "Network {holder} has no egress deny, so the implied allow-all (65535) applies: add \
             an EGRESS deny rule for 0.0.0.0/0 (and ::/0) at priority 65534 and allow rules with \
             lower priority numbers for what the instances need"
        ),
        LayerKindKey::Host => format!(
            "The host firewall {holder} accepts what its rules do not name: set the output \
             chain's policy to drop and allow what the host needs"
        ),
        _ => format!("{holder} allows what its rules do not name: add a final deny-all"),
    }
}

fn rule_change(c: &Cause) -> String {
    let rule = names(c);
    let holder = short_id(&c.holder);
    if c.checks.contains("EG011") {
        format!(
            "The deny {rule} in {holder} never takes effect where earlier allows decide its \
             traffic: move it before them (a lower priority number) or narrow those allows"
        )
    } else if c.checks.contains("EG012") {
        format!("Delete {rule} from {holder}: everything it names is decided before it")
    } else {
        format!("Review {rule} in {holder}")
    }
}

/// The change in a few words, for one-line listings.
pub fn short(c: &Cause) -> &'static str {
    match c.kind {
        CauseKind::Rules(LayerKindKey::SecurityGroup) => {
            "replace with an allow-list (security groups cannot deny)"
        }
        CauseKind::Rules(LayerKindKey::NetworkAcl) => "narrow the entry or deny before it",
        CauseKind::Rules(LayerKindKey::Nsg) => "narrow or delete; add Deny-Internet-Out (4096)",
        CauseKind::Rules(LayerKindKey::FirewallPolicy) => "narrow the rule or goto_next",
        CauseKind::Rules(_) => "narrow or delete the rule",
        CauseKind::DefaultAllow(LayerKindKey::Nsg) => "add Deny-Internet-Out (priority 4096)",
        CauseKind::DefaultAllow(LayerKindKey::VpcFirewall | LayerKindKey::FirewallPolicy) => {
            "add an EGRESS deny-all at priority 65534"
        }
        CauseKind::DefaultAllow(_) => "add a final deny-all",
        CauseKind::NoFilter => "attach a security group, NSG or firewall",
        CauseKind::Rule if c.checks.contains("EG011") => "move the deny before the allows",
        CauseKind::Rule if c.checks.contains("EG012") => "delete the rule",
        CauseKind::Rule => "review the rule",
        CauseKind::Observed => "find the control on the path",
    }
}

/// An Azure resource id by its name (the last segment); other ids as they are.
pub fn short_id(id: &str) -> String {
    if id.starts_with("/subscriptions/") {
        id.rsplit('/').next().unwrap_or(id).to_string()
    } else {
        id.to_string()
    }
}
