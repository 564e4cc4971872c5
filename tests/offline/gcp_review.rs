//! GCP review: real-shaped `gcloud … --format=json` exports (tests/fixtures/gcp/review) with
//! the tricky-but-real cases, and the exact outcome docs/SEMANTICS.md and the GCP docs give for each.

use egress_audit::model::{Finding, Severity};
use egress_audit::normalize::Inventory;
use std::path::{Path, PathBuf};

use crate::inputs;

fn fixture(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gcp/review")
        .join(dir)
}

fn scan(paths: &[PathBuf], ids: &[&str]) -> (Inventory, Vec<Finding>) {
    inputs::scan_paths(paths, ids)
}

/// `check severity [rule] | evidence rule action destination; …` for one resource, sorted.
fn on(findings: &[Finding], resource: &str) -> Vec<String> {
    let mut v: Vec<String> = findings
        .iter()
        .filter(|f| f.resource_id == resource)
        .map(|f| {
            let ev: Vec<String> = f
                .evidence
                .iter()
                .map(|e| format!("{} {} {}", e.name, e.action, e.destination))
                .collect();
            let rule = f
                .rule
                .as_deref()
                .map(|r| format!(" [{r}]"))
                .unwrap_or_default();
            format!("{} {}{rule} | {}", f.check_id, f.severity, ev.join("; "))
        })
        .collect();
    v.sort();
    v
}

fn ids(findings: &[Finding], resource: &str) -> Vec<String> {
    let mut v: Vec<String> = findings
        .iter()
        .filter(|f| f.resource_id == resource)
        .map(|f| f.check_id.to_string())
        .collect();
    v.sort();
    v
}

fn nets(ids: &[&str]) -> (Inventory, Vec<Finding>) {
    scan(&[fixture("nets")], ids)
}

/// `0.0.0.0/1` + `128.0.0.0/1` in two rules (one with `IPProtocol: "6"`) is all of tcp to
/// 0.0.0.0/0: EG001 fires with both rules as evidence; udp, icmp and protocol 253 are denied.
#[test]
fn split_halves_are_unrestricted() {
    let (_, f) = nets(&[
        "EG001", "EG002", "EG003", "EG004", "EG006", "EG008", "EG013",
    ]);
    assert_eq!(
        ids(&f, "split-net"),
        ["EG001", "EG002", "EG003", "EG004", "EG006", "EG008", "EG013"]
    );
    let eg001 = on(&f, "split-net");
    assert_eq!(
        eg001[0],
        "EG001 high | split-allow-high allow 128.0.0.0/1; split-allow-low allow 0.0.0.0/1"
    );
}

/// deny tcp/445 at 100, then allow `all` (no `destinationRanges`: 0.0.0.0/0 only) at 1000:
/// "all but 445" is unrestricted (EG001), SMB is not (no EG002); the allow names no IPv6.
#[test]
fn deny_smb_then_allow_all() {
    let (_, f) = nets(&[
        "EG001", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
    ]);
    assert_eq!(
        ids(&f, "smb-net"),
        ["EG001", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013"]
    );
    for line in on(&f, "smb-net") {
        assert!(line.ends_with("| smb-allow-all allow 0.0.0.0/0"), "{line}");
    }
}

/// A deny at 1000 whose traffic an allow at 900 already decides: EG011 on the deny.
#[test]
fn deny_shadowed_by_earlier_allow() {
    let (_, f) = nets(&["EG008", "EG009", "EG011", "EG013"]);
    assert_eq!(
        on(&f, "shadow-net"),
        [
            "EG008 medium | shadow-allow-web-ssh allow 0.0.0.0/0",
            "EG009 low | shadow-allow-web-ssh allow 0.0.0.0/0",
            "EG011 high [shadow-deny-ssh] | shadow-deny-ssh deny 0.0.0.0/0; shadow-allow-web-ssh allow 0.0.0.0/0",
            "EG013 medium | shadow-allow-web-ssh allow 0.0.0.0/0",
        ]
    );
}

/// An allow and a deny of tcp/23 at the same priority: the deny wins, so no EG003; the allow
/// decides nothing (EG012), and the deny is not shadowed.
#[test]
fn equal_priority_deny_wins() {
    let (_, f) = nets(&["EG012"]);
    assert_eq!(
        on(&f, "tie-net"),
        ["EG012 info [tie-allow-telnet] | tie-allow-telnet allow 0.0.0.0/0; tie-deny-telnet deny 0.0.0.0/0"]
    );
}

/// Dual-stack subnet (`stackType: IPV4_IPV6`, external IPv6 prefix): a deny-all without
/// `destinationRanges` denies IPv4 only, so the implied `::/0` allow decides; the disabled
/// allow does not exist. The IPv4 default route was deleted but `::/0 → default-internet-gateway`
/// remains, so the findings keep their severity (they were lowered to info before), and the
/// subnet route (`nextHopNetwork`) to the public IPv6 prefix is not an appliance.
#[test]
fn ipv6_implied_allow_and_ipv6_default_route() {
    let (inv, f) = nets(&[
        "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
    ]);
    assert_eq!(
        ids(&f, "v6-net"),
        ["EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013"]
    );
    for x in f.iter().filter(|x| x.resource_id == "v6-net") {
        assert!(x.original_severity.is_none(), "{x:?}");
        assert!(x.notes.is_empty(), "{:?}", x.notes);
        assert_eq!(x.evidence.len(), 1);
        assert_eq!(x.evidence[0].name, "implied-allow-egress-ipv6");
        assert_eq!(x.evidence[0].destination, "::/0");
    }
    let eg001 = f
        .iter()
        .find(|x| x.resource_id == "v6-net" && x.check_id == "EG001")
        .unwrap();
    assert_eq!(eg001.severity, Severity::High);
    let t = inv
        .targets
        .iter()
        .find(|t| t.resource_id == "v6-net")
        .unwrap();
    assert_eq!(t.route.internet_path, Some(true));
    assert_eq!(t.route.appliance, None);
}

/// Network firewall policy: a deny to an FQDN only is unresolved (warning) and denies nothing;
/// a deny of 0.0.0.0/0 in the NON_INTERNET context denies no public traffic (before, it hid all
/// of it); allow tcp/443 then deny all in the INTERNET context leave tcp/443 only.
#[test]
fn network_policy_contexts_and_unresolved_destinations() {
    let (inv, f) = nets(&["EG008", "EG009"]);
    assert_eq!(
        on(&f, "pol-net"),
        [
            "EG008 medium | pol-egress/1000 allow 0.0.0.0/0, network-context:INTERNET",
            "EG009 low | pol-egress/1000 allow 0.0.0.0/0, network-context:INTERNET",
        ]
    );
    assert!(
        on(&f, "pol-egress").is_empty(),
        "{:?}",
        on(&f, "pol-egress")
    );
    let mut w: Vec<String> = inv
        .warnings
        .iter()
        .map(|w| format!("{} {}", w.kind, w.source))
        .collect();
    w.sort();
    assert_eq!(
        w,
        [
            "approximated pol-egress/1000",
            "approximated pol-egress/200",
            "approximated pol-egress/2000",
            "unresolved-destination pol-egress/100",
        ]
    );
}

/// `gcloud compute instances network-interfaces get-effective-firewalls --format=json`: the
/// NETWORK_REGIONAL policy's egress rules cannot be placed (no region, no network), so the
/// report says so instead of dropping them.
#[test]
fn effective_firewalls_regional_policy_is_reported() {
    let (inv, f) = scan(&[fixture("effective")], &["EG008", "EG009"]);
    assert_eq!(
        on(&f, "eff-net"),
        [
            "EG008 medium | eff-allow-web allow 0.0.0.0/0",
            "EG009 low | eff-allow-web allow 0.0.0.0/0",
        ]
    );
    let w: Vec<&str> = inv
        .warnings
        .iter()
        .filter(|w| w.kind == "not-evaluated")
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("eff-regional-policy") && w[0].contains("NETWORK_REGIONAL"),
        "{}",
        w[0]
    );
}

/// `gcloud compute networks get-effective-firewalls hub-net --format=json` has no `network` and
/// names the hierarchical policy by its number: the network comes from the VPC rules in the
/// response, so its NETWORK policy is applied to hub-net (it was dropped with a warning); with
/// the organization policy's own export (named `org-egress`) the policy is applied once, not
/// twice (the second copy's deny was reported as redundant, EG012).
#[test]
fn gcloud_effective_firewalls_bind_to_their_network_and_apply_once() {
    let expected = |org: &str| {
        vec![
            "EG008 medium | hub-allow-all allow 0.0.0.0/0".to_string(),
            "EG009 low | hub-allow-all allow 0.0.0.0/0".to_string(),
            format!("EG011 high [hub-net-policy/500] | hub-net-policy/500 deny 0.0.0.0/0; {org}/900 goto_next 0.0.0.0/0; hub-allow-all allow 0.0.0.0/0"),
        ]
    };
    let alone = fixture("effective-net/network-effective-firewalls.json");
    for (paths, org) in [
        (vec![alone.clone()], "918273645501"),
        (vec![fixture("effective-net")], "org-egress"),
    ] {
        let (inv, f) = scan(&paths, &["EG008", "EG009", "EG011"]);
        let mut got = on(&f, "hub-net");
        got.extend(on(&f, "hub-net-policy"));
        assert_eq!(got, expected(org), "{paths:?}");
        assert!(
            on(&f, "org-egress").is_empty(),
            "{:?}",
            on(&f, "org-egress")
        );
        assert!(on(&f, "918273645501").is_empty());
        assert_eq!(
            on(
                &f,
                "hub-net[sa:locked@rev-proj-7731.iam.gserviceaccount.com]"
            ),
            [
                "EG008 medium | hub-allow-all allow 0.0.0.0/0",
                "EG009 low | hub-allow-all allow 0.0.0.0/0",
            ]
        );
        // No subnet listing: whether hub-net has IPv6 is unknown, and the report says so.
        let w: Vec<String> = inv
            .warnings
            .iter()
            .map(|w| format!("{} {}", w.kind, w.source))
            .collect();
        assert_eq!(w, ["partial-data hub-net"]);
        let t = inv
            .targets
            .iter()
            .find(|t| t.resource_id == "hub-net")
            .unwrap();
        let policies: Vec<&str> = t.chains[0]
            .layers
            .iter()
            .map(|l| l.resource.as_str())
            .collect();
        assert_eq!(
            policies,
            [org, "hub-net", "hub-net-policy", "hub-net (implied rules)"]
        );
    }
}

/// Two dual-stack instances (`stackType: IPV4_IPV6`) on a network whose only egress rule denies
/// `all` without `destinationRanges` (IPv4 only): the one with an external IPv6 address
/// (`ipv6AccessConfigs`, `ipv6AccessType: EXTERNAL`) reaches public IPv6 through the implied
/// `::/0` allow; the one whose IPv6 address is internal (ULA, `ipv6AccessType: INTERNAL`)
/// reaches no public address at all (it had the same IPv6 findings before).
#[test]
fn internal_ipv6_reaches_no_public_ipv6() {
    let (_, f) = scan(
        &[fixture("instances")],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    let ext = "rev-proj-7731/us-central1-a/ext-v6-1";
    assert_eq!(
        ids(&f, ext),
        ["EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013"]
    );
    for line in on(&f, ext) {
        assert!(
            line.ends_with("| implied-allow-egress-ipv6 allow ::/0"),
            "{line}"
        );
    }
    assert!(ids(&f, "rev-proj-7731/us-central1-a/ula-1").is_empty());
    assert_eq!(f.len(), 9);
}

/// A network with ULA internal IPv6 (`enableUlaInternalIpv6`) whose every subnet is
/// `ipv6AccessType: INTERNAL`, judged without instances: its deny-all (IPv4) leaves nothing
/// public. Without the subnet listing, whether a subnet has external IPv6 is unknown, so the
/// implied `::/0` allow is still reported.
#[test]
fn network_with_internal_ipv6_only() {
    let dir = fixture("ula-net");
    let (_, f) = scan(
        std::slice::from_ref(&dir),
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert!(f.is_empty(), "{:?}", on(&f, "dual-net"));
    let (_, f) = scan(
        &[dir.join("networks.json"), dir.join("firewall-rules.json")],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(
        ids(&f, "dual-net"),
        ["EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013"]
    );
}

/// VPC egress rules may name `sourceRanges` (packets from those addresses only): the deny-all
/// for 10.30.0.5/32 locks down db-1 only; app-1 (10.30.0.6) goes on to the allow-all. It was
/// applied to every instance, so app-1 came out clean. Without the instance listing the deny is
/// applied to no instance, with a warning.
#[test]
fn egress_source_ranges_select_instances_by_address() {
    let dir = fixture("source-ranges");
    let (_, f) = scan(
        std::slice::from_ref(&dir),
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert!(ids(&f, "rev-proj-7731/us-east1-b/db-1").is_empty());
    let app = "rev-proj-7731/us-east1-b/app-1";
    assert_eq!(
        ids(&f, app),
        ["EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013"]
    );
    for line in on(&f, app) {
        assert!(line.ends_with("| src-allow-all allow 0.0.0.0/0"), "{line}");
    }
    let (inv, f) = scan(
        &[dir.join("firewall-rules.json")],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(ids(&f, "src-net").len(), 9);
    let w: Vec<String> = inv
        .warnings
        .iter()
        .map(|w| format!("{} {}", w.kind, w.source))
        .collect();
    assert_eq!(w, ["approximated src-deny-db", "partial-data src-net"]);
}

/// A network firewall policy's egress deny with `srcIpRanges` 10.30.0.5/32 stops db-1 only;
/// app-1 falls through to the implied allow. The rule was applied to every instance (app-1
/// clean). Without instances, the deny is applied to no instance.
#[test]
fn policy_egress_source_ranges_select_instances_by_address() {
    let dir = fixture("policy-source");
    let (_, f) = scan(
        std::slice::from_ref(&dir),
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert!(ids(&f, "rev-proj-7731/us-east1-b/db-1").is_empty());
    let app = "rev-proj-7731/us-east1-b/app-1";
    assert_eq!(
        ids(&f, app),
        ["EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013"]
    );
    for line in on(&f, app) {
        assert!(
            line.ends_with("| implied-allow-egress allow 0.0.0.0/0"),
            "{line}"
        );
    }
    let (inv, f) = scan(
        &[dir.join("network-firewall-policies.json")],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(ids(&f, "src-net").len(), 9);
    let w: Vec<String> = inv
        .warnings
        .iter()
        .map(|w| format!("{} {}", w.kind, w.source))
        .collect();
    assert_eq!(
        w,
        ["approximated src-net-policy/100", "partial-data src-net"]
    );
}

/// Firewall rules alone: a network's IPv6 state is unknown (external IPv6 subnets need no
/// network setting), so the scan warns that the implied `::/0` allow was not applied rather
/// than report the network clean for IPv6 without saying so.
#[test]
fn unknown_ipv6_state_is_reported() {
    let (inv, f) = scan(&[fixture("nets/firewall-rules.json")], inputs::EVERY);
    assert!(ids(&f, "v6-net").is_empty());
    let mut w: Vec<String> = inv
        .warnings
        .iter()
        .filter(|w| w.kind == "partial-data")
        .map(|w| w.source.clone())
        .collect();
    w.sort();
    assert_eq!(
        w,
        [
            "pol-net",
            "shadow-net",
            "smb-net",
            "split-net",
            "tie-net",
            "v6-net"
        ]
    );
}
