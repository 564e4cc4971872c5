//! The GCP normalizer end to end: exports → Loader → targets → checks, with the exact check ids per
//! target and the evidence that names the deciding rules.

use egress_audit::checks::run;
use egress_audit::config::Config;
use egress_audit::model::Finding;
use egress_audit::normalize::{Inventory, Loader, Options};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const NET: &str = "https://www.googleapis.com/compute/v1/projects/my-proj-123/global/networks/";

fn scan_paths(paths: &[PathBuf], ids: &[&str]) -> (Inventory, Vec<Finding>) {
    let mut loader = Loader::default();
    for p in paths {
        loader.add_path(p).unwrap_or_else(|e| panic!("{e}"));
    }
    let inv = loader.build(&Options::default());
    let catalog = crate::inputs::catalog_of(ids).unwrap();
    let findings = run(&inv, &catalog, &Config::default()).unwrap();
    (inv, findings)
}

fn example(name: &str, ids: &[&str]) -> (Inventory, Vec<Finding>) {
    scan_paths(
        &[Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/gcp")
            .join(name)],
        ids,
    )
}

/// Writes each document to its own file in a temporary folder and scans the folder.
fn scan_docs(docs: &[(&str, Value)], ids: &[&str]) -> (Inventory, Vec<Finding>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, v) in docs {
        std::fs::write(
            dir.path().join(name),
            serde_json::to_string_pretty(v).unwrap(),
        )
        .unwrap();
    }
    scan_paths(&[dir.path().to_path_buf()], ids)
}

fn load_err(docs: &[(&str, Value)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut loader = Loader::default();
    for (name, v) in docs {
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
        if let Err(e) = loader.add_path(&p) {
            return e.to_string();
        }
    }
    panic!("expected an input error");
}

/// The check ids of the findings about `resource` (target-level, not rule-level).
fn ids(findings: &[Finding], resource: &str) -> Vec<String> {
    let mut v: Vec<String> = findings
        .iter()
        .filter(|f| f.resource_id == resource && f.rule.is_none())
        .map(|f| f.check_id.to_string())
        .collect();
    v.sort();
    v
}

fn find<'a>(findings: &'a [Finding], resource: &str, check: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.resource_id == resource && f.check_id == check && f.rule.is_none())
        .unwrap_or_else(|| panic!("no {check} on {resource}"))
}

/// The rules that rule-level check `check` reported.
fn rule_findings(findings: &[Finding], check: &str) -> BTreeSet<String> {
    findings
        .iter()
        .filter(|f| f.check_id == check)
        .filter_map(|f| f.rule.as_deref().map(str::to_string))
        .collect()
}

fn target_ids(inv: &Inventory) -> Vec<String> {
    let mut v: Vec<String> = inv
        .targets
        .iter()
        .map(|t| t.resource_id.to_string())
        .collect();
    v.sort();
    v
}

const OPEN: [&str; 9] = [
    "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
];

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn egress(name: &str, net: &str, prio: i64, action: &str, l4: Value, dest: &[&str]) -> Value {
    let mut r = json!({
        "kind": "compute#firewall",
        "name": name,
        "network": format!("{NET}{net}"),
        "direction": "EGRESS",
        "priority": prio,
        "selfLink": format!("https://www.googleapis.com/compute/v1/projects/my-proj-123/global/firewalls/{name}"),
    });
    r[action] = l4;
    if !dest.is_empty() {
        r["destinationRanges"] = json!(dest);
    }
    r
}

fn instance(name: &str, zone: &str, net: &str, tags: &[&str], sa: &str) -> Value {
    json!({
        "kind": "compute#instance",
        "name": name,
        "zone": format!("https://www.googleapis.com/compute/v1/projects/my-proj-123/zones/{zone}"),
        "machineType": format!("https://www.googleapis.com/compute/v1/projects/my-proj-123/zones/{zone}/machineTypes/e2-small"),
        "selfLink": format!("https://www.googleapis.com/compute/v1/projects/my-proj-123/zones/{zone}/instances/{name}"),
        "networkInterfaces": [{"name": "nic0", "network": format!("{NET}{net}"), "networkIP": "10.0.0.5"}],
        "tags": {"items": tags, "fingerprint": "abc="},
        "serviceAccounts": [{"email": sa, "scopes": []}],
        "labels": {"env": "test"},
    })
}

// ---- the examples ------------------------------------------------------------------------------

#[test]
fn implied_allow_example() {
    let (inv, findings) = example(
        "implied-allow",
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG011",
            "EG012", "EG013",
        ],
    );
    assert_eq!(target_ids(&inv), strs(&["app-net"]));
    let t = &inv.targets[0];
    assert_eq!(t.resource_kind, "vpc-network");
    assert_eq!(t.account.as_deref(), Some("sandbox-proj-789"));
    assert_eq!(ids(&findings, "app-net"), strs(&OPEN));
    assert!(rule_findings(&findings, "EG011").is_empty());
    assert!(rule_findings(&findings, "EG012").is_empty());
    let eg001 = find(&findings, "app-net", "EG001");
    assert_eq!(eg001.evidence.len(), 1);
    let ev = &eg001.evidence[0];
    assert_eq!(ev.name, "implied-allow-egress");
    assert_eq!(ev.priority, Some(65535));
    assert_eq!(
        (ev.action.as_str(), ev.destination.as_str()),
        ("allow", "0.0.0.0/0")
    );
    // IPv4 only: the network has no IPv6.
    assert!(!eg001.message.contains("IPv6"), "{}", eg001.message);
}

#[test]
fn tags_and_shadowing_example() {
    let (inv, findings) = example(
        "tags-and-shadowing",
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009",
            "EG011", "EG012", "EG013",
        ],
    );
    let web = "my-proj-123/us-central1-a/web-1";
    let batch = "my-proj-123/us-central1-b/batch-1";
    let db = "my-proj-123/europe-west1-b/db-1";
    assert_eq!(
        target_ids(&inv),
        strs(&[db, web, batch])
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    let t = inv.targets.iter().find(|t| t.resource_id == web).unwrap();
    assert_eq!(t.resource_kind, "instance");
    assert_eq!(t.region.as_deref(), Some("us-central1"));
    assert_eq!(t.account.as_deref(), Some("my-proj-123"));
    assert!(t.selectors.contains(&"web".to_string()));
    assert!(t
        .selectors
        .contains(&"123456789012-compute@developer.gserviceaccount.com".to_string()));
    assert_eq!(t.labels.get("team").map(String::as_str), Some("web"));

    // The allow-all for tag `web` opens everything; the disabled FTP rule plays no part.
    assert_eq!(ids(&findings, web), strs(&OPEN));
    let eg002 = find(&findings, web, "EG002");
    assert_eq!(eg002.evidence[0].name, "prod-allow-web-egress");
    assert_eq!(eg002.evidence[0].priority, Some(1000));
    // The service account's ssh rule: tcp/22 to everything, nothing else (deny-all at 65534).
    assert_eq!(ids(&findings, batch), strs(&["EG009", "EG013"]));
    assert_eq!(
        find(&findings, batch, "EG013").evidence[0].name,
        "prod-allow-batch-ssh"
    );
    // Untagged: tcp/443 to one /24 only; DNS allow and deny tie at 1100 and the deny wins.
    assert_eq!(ids(&findings, db), Vec::<String>::new());

    assert_eq!(
        rule_findings(&findings, "EG011"),
        [
            "prod-deny-all-egress",
            "prod-deny-dns-any",
            "prod-deny-smb-egress"
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    );
    let smb = findings
        .iter()
        .find(|f| f.rule.as_deref() == Some("prod-deny-smb-egress"))
        .unwrap();
    assert_eq!(smb.resource_id, "prod-vpc");
    assert_eq!(smb.resource_kind, "vpc-firewall");
    assert_eq!(smb.evidence[0].priority, Some(2000));
    assert!(smb
        .evidence
        .iter()
        .any(|e| e.name == "prod-allow-web-egress"));
    assert_eq!(
        rule_findings(&findings, "EG012"),
        ["prod-allow-dns-any".to_string()].into_iter().collect()
    );
    let dns = findings
        .iter()
        .find(|f| f.rule.as_deref() == Some("prod-allow-dns-any"))
        .unwrap();
    assert_eq!(dns.evidence[1].name, "prod-deny-dns-any");
    assert!(
        inv.not_scanned.is_empty(),
        "NO_RESULTS_ON_PAGE is not a gap"
    );
}

#[test]
fn policies_example() {
    let (inv, findings) = example(
        "policies",
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009",
            "EG011", "EG013",
        ],
    );
    assert_eq!(
        target_ids(&inv),
        strs(&["isolated-vpc", "legacy-vpc", "shared-vpc"])
    );
    // Only tcp/443 is handed to the VPC rules by the network policy (BEFORE_CLASSIC_FIREWALL).
    assert_eq!(ids(&findings, "shared-vpc"), strs(&["EG008", "EG009"]));
    let eg009 = find(&findings, "shared-vpc", "EG009");
    assert!(eg009.message.starts_with("tcp/443 "), "{}", eg009.message);
    assert_eq!(eg009.evidence[0].name, "shared-allow-all-egress");
    // The org policy's tcp:445 deny overrides the VPC allow-all.
    let legacy: Vec<String> = OPEN
        .iter()
        .filter(|c| **c != "EG002")
        .map(|s| s.to_string())
        .collect();
    assert_eq!(ids(&findings, "legacy-vpc"), legacy);
    let eg001 = find(&findings, "legacy-vpc", "EG001");
    assert!(
        eg001
            .notes
            .iter()
            .any(|n| n.contains("appliance") && n.contains("egress-fw-ilb")),
        "{:?}",
        eg001.notes
    );
    assert!(eg001
        .evidence
        .iter()
        .any(|e| e.name == "legacy-allow-all-egress"));
    let t = inv
        .targets
        .iter()
        .find(|t| t.resource_id == "legacy-vpc")
        .unwrap();
    let layers: Vec<&str> = t.chains[0]
        .layers
        .iter()
        .map(|l| l.resource.as_str())
        .collect();
    assert_eq!(
        layers,
        ["org-baseline", "legacy-vpc", "legacy-vpc (implied rules)"]
    );
    let t = inv
        .targets
        .iter()
        .find(|t| t.resource_id == "shared-vpc")
        .unwrap();
    let layers: Vec<&str> = t.chains[0]
        .layers
        .iter()
        .map(|l| l.resource.as_str())
        .collect();
    assert_eq!(
        layers,
        [
            "org-baseline",
            "prod-egress",
            "shared-vpc",
            "shared-vpc (implied rules)"
        ]
    );
    // The default internet route was deleted: every finding says so (and keeps its severity).
    assert_eq!(ids(&findings, "isolated-vpc"), legacy);
    for f in findings.iter().filter(|f| f.resource_id == "isolated-vpc") {
        assert_ne!(f.severity.as_str(), "info");
        assert!(f.notes.iter().any(|n| n.contains(
            "network isolated-vpc has no default internet route (0.0.0.0/0 → default-internet-gateway)"
        )));
    }
    assert!(rule_findings(&findings, "EG011").is_empty());
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.kind == "unresolved-destination" && w.source == "org-baseline/1100"));
}

// ---- semantics ---------------------------------------------------------------------------------

#[test]
fn deny_wins_ties_in_either_input_order() {
    let allow = egress(
        "a-allow-telnet",
        "net1",
        900,
        "allowed",
        json!([{"IPProtocol": "tcp", "ports": ["23"]}]),
        &["0.0.0.0/0"],
    );
    let deny = egress(
        "z-deny-telnet",
        "net1",
        900,
        "denied",
        json!([{"IPProtocol": "tcp", "ports": ["23"]}]),
        &["0.0.0.0/0"],
    );
    let deny_all = egress(
        "deny-all",
        "net1",
        65534,
        "denied",
        json!([{"IPProtocol": "all"}]),
        &[],
    );
    for docs in [
        json!([allow.clone(), deny.clone(), deny_all.clone()]),
        json!([deny.clone(), allow.clone(), deny_all.clone()]),
    ] {
        let (_, findings) = scan_docs(&[("fw.json", docs)], &["EG003", "EG009", "EG011", "EG012"]);
        assert_eq!(ids(&findings, "net1"), Vec::<String>::new());
        assert_eq!(
            rule_findings(&findings, "EG012"),
            ["a-allow-telnet".to_string()].into_iter().collect()
        );
    }
    // One priority lower and the allow decides.
    let mut earlier = allow.clone();
    earlier["priority"] = json!(899);
    let (_, findings) = scan_docs(
        &[("fw.json", json!([earlier, deny, deny_all]))],
        &["EG003", "EG009", "EG011", "EG012"],
    );
    assert_eq!(ids(&findings, "net1"), strs(&["EG003", "EG009"]));
    assert_eq!(
        rule_findings(&findings, "EG011"),
        ["z-deny-telnet".to_string()].into_iter().collect()
    );
}

#[test]
fn disabled_rule_does_not_exist() {
    let mut deny_all = egress(
        "deny-all",
        "net1",
        1000,
        "denied",
        json!([{"IPProtocol": "all"}]),
        &["0.0.0.0/0"],
    );
    let (_, findings) = scan_docs(
        &[("fw.json", json!([deny_all.clone()]))],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(ids(&findings, "net1"), Vec::<String>::new());
    deny_all["disabled"] = json!(true);
    let (_, findings) = scan_docs(
        &[("fw.json", json!([deny_all]))],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(ids(&findings, "net1"), strs(&OPEN));
    assert_eq!(
        find(&findings, "net1", "EG002").evidence[0].name,
        "implied-allow-egress"
    );
}

#[test]
fn target_tags_and_service_accounts_select() {
    let sa = "rdp-gw@my-proj-123.iam.gserviceaccount.com";
    let rules = json!([
        egress(
            "allow-rdp-tag",
            "net1",
            1000,
            "allowed",
            json!([{"IPProtocol": "tcp", "ports": ["3389"]}]),
            &[]
        ),
        egress(
            "allow-smtp-sa",
            "net1",
            1000,
            "allowed",
            json!([{"IPProtocol": "tcp", "ports": ["25"]}]),
            &[]
        ),
        egress(
            "deny-all",
            "net1",
            65534,
            "denied",
            json!([{"IPProtocol": "all"}]),
            &[]
        ),
    ]);
    let mut rules = rules;
    rules[0]["targetTags"] = json!(["rdp"]);
    rules[1]["targetServiceAccounts"] = json!([sa]);
    // Without instances: the network once untagged, once per tag and per service account.
    let (inv, findings) = scan_docs(&[("fw.json", rules.clone())], &["EG009", "EG013"]);
    let sa_id = format!("net1[sa:{sa}]");
    assert_eq!(target_ids(&inv), strs(&["net1", &sa_id, "net1[tag:rdp]"]));
    let tag_target = inv
        .targets
        .iter()
        .find(|t| t.resource_id == "net1[tag:rdp]")
        .unwrap();
    assert_eq!(tag_target.selectors, strs(&["rdp"]));
    assert_eq!(ids(&findings, "net1"), Vec::<String>::new());
    assert_eq!(ids(&findings, "net1[tag:rdp]"), strs(&["EG009", "EG013"]));
    assert_eq!(
        find(&findings, "net1[tag:rdp]", "EG013").message,
        "tcp/3389 is allowed to 100% of public IPv4"
    );
    assert_eq!(
        find(&findings, &sa_id, "EG013").message,
        "tcp/25 is allowed to 100% of public IPv4"
    );
    // With instances: the rule follows the instance's tags and service account.
    let instances = json!([
        instance(
            "gw-1",
            "us-east1-b",
            "net1",
            &["rdp"],
            "other@my-proj-123.iam.gserviceaccount.com"
        ),
        instance("mail-1", "us-east1-c", "net1", &[], sa),
        instance(
            "app-1",
            "us-east1-d",
            "net1",
            &["web"],
            "other@my-proj-123.iam.gserviceaccount.com"
        ),
    ]);
    let other = json!([egress(
        "allow-all",
        "unused-net",
        1000,
        "allowed",
        json!([{"IPProtocol": "all"}]),
        &[]
    )]);
    let (inv, findings) = scan_docs(
        &[
            ("fw.json", rules),
            ("vm.json", instances),
            ("other.json", other),
        ],
        &["EG009", "EG013"],
    );
    assert_eq!(inv.targets.len(), 3);
    // A network of the same project without instances has no workload, and the report says so.
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.kind == "not-evaluated" && w.source == "unused-net"));
    let gw = "my-proj-123/us-east1-b/gw-1";
    assert_eq!(
        find(&findings, gw, "EG013").message,
        "tcp/3389 is allowed to 100% of public IPv4"
    );
    assert_eq!(
        find(&findings, "my-proj-123/us-east1-c/mail-1", "EG013").message,
        "tcp/25 is allowed to 100% of public IPv4"
    );
    assert_eq!(
        ids(&findings, "my-proj-123/us-east1-d/app-1"),
        Vec::<String>::new()
    );
}

#[test]
fn implied_ipv6_rule_only_when_the_network_has_ipv6() {
    let fw = json!([egress(
        "allow-https",
        "net6",
        1000,
        "allowed",
        json!([{"IPProtocol": "tcp", "ports": ["443"]}]),
        &[]
    )]);
    let network = |v6: bool| {
        json!([{"kind": "compute#network", "name": "net6", "autoCreateSubnetworks": false,
                "selfLink": format!("{NET}net6"), "enableUlaInternalIpv6": v6}])
    };
    let msg = |findings: &[Finding]| find(findings, "net6", "EG001").message.clone();
    // No networks data: IPv4 only.
    let (inv, findings) = scan_docs(&[("fw.json", fw.clone())], &["EG001"]);
    assert!(!msg(&findings).contains("IPv6"));
    let implied = inv.targets[0].chains[0].layers.last().unwrap();
    let names: Vec<&str> = implied.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["implied-allow-egress", "implied-deny-egress"]);
    assert!(implied
        .rules
        .iter()
        .all(|r| r.synthetic && r.priority == Some(65535)));
    let (_, findings) = scan_docs(
        &[("fw.json", fw.clone()), ("net.json", network(false))],
        &["EG001"],
    );
    assert!(!msg(&findings).contains("IPv6"));
    let (inv, findings) = scan_docs(
        &[("fw.json", fw.clone()), ("net.json", network(true))],
        &["EG001"],
    );
    assert_eq!(msg(&findings), "tcp is allowed to 100% of public IPv4 and 100% of public IPv6; udp is allowed to 100% of public IPv4 and 100% of public IPv6");
    let names: Vec<&str> = inv.targets[0].chains[0]
        .layers
        .last()
        .unwrap()
        .rules
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "implied-allow-egress",
            "implied-allow-egress-ipv6",
            "implied-deny-egress"
        ]
    );
    // A dual-stack subnet turns it on as well.
    let subnet = json!([{"kind": "compute#subnetwork", "name": "s1", "network": format!("{NET}net6"),
                         "ipCidrRange": "10.0.0.0/24", "stackType": "IPV4_IPV6", "ipv6AccessType": "EXTERNAL"}]);
    let (_, findings) = scan_docs(
        &[
            ("fw.json", fw),
            ("net.json", network(false)),
            ("sub.json", subnet),
        ],
        &["EG001"],
    );
    assert!(msg(&findings).contains("100% of public IPv6"));
}

#[test]
fn all_protocol_numbers_and_port_ranges() {
    // `all` to the two halves of 0.0.0.0/0 is 0.0.0.0/0.
    let halves = json!([
        egress(
            "allow-low-half",
            "n",
            100,
            "allowed",
            json!([{"IPProtocol": "all"}]),
            &["0.0.0.0/1"]
        ),
        egress(
            "allow-high-half",
            "n",
            101,
            "allowed",
            json!([{"IPProtocol": "all"}]),
            &["128.0.0.0/1"]
        ),
        egress(
            "deny-all",
            "n",
            65534,
            "denied",
            json!([{"IPProtocol": "all"}]),
            &["0.0.0.0/0"]
        ),
    ]);
    let (_, findings) = scan_docs(
        &[("fw.json", halves)],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009",
            "EG012", "EG013",
        ],
    );
    assert_eq!(ids(&findings, "n"), strs(&OPEN));
    // Protocol numbers and port ranges: 6 = tcp, 17 = udp.
    let numbers = json!([
        egress(
            "allow-6",
            "n",
            100,
            "allowed",
            json!([{"IPProtocol": "6", "ports": ["440-450"]}]),
            &["0.0.0.0/0"]
        ),
        egress(
            "allow-17",
            "n",
            100,
            "allowed",
            json!([{"IPProtocol": "17", "ports": ["53"]}]),
            &["8.8.8.8/32"]
        ),
        egress(
            "allow-esp",
            "n",
            100,
            "allowed",
            json!([{"IPProtocol": "esp"}, {"IPProtocol": "ipip"}]),
            &["0.0.0.0/0"]
        ),
        egress(
            "deny-all",
            "n",
            65534,
            "denied",
            json!([{"IPProtocol": "all"}]),
            &["0.0.0.0/0"]
        ),
    ]);
    let (inv, findings) = scan_docs(
        &[("fw.json", numbers)],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009",
            "EG012", "EG013",
        ],
    );
    // tcp/440-450 holds 445 (SMB) and 443 (DoH to the public resolvers).
    assert_eq!(
        ids(&findings, "n"),
        strs(&["EG002", "EG006", "EG008", "EG009"])
    );
    let eg002 = find(&findings, "n", "EG002");
    assert_eq!(
        (
            eg002.evidence[0].protocol.as_str(),
            eg002.evidence[0].ports.as_str()
        ),
        ("6", "440-450")
    );
    assert_eq!(
        find(&findings, "n", "EG006").message,
        "udp/53 is allowed to <0.01% of public IPv4"
    );
    let esp = inv.targets[0].chains[0].layers[0]
        .rules
        .iter()
        .find(|r| r.name == "allow-esp")
        .unwrap();
    assert_eq!(
        (esp.protocol.as_str(), esp.ports.as_str()),
        ("esp,ipip", "esp:all; ipip:all")
    );
    // `all` as a deny in front of everything.
    let deny_first = json!([
        egress(
            "deny-everything",
            "n",
            10,
            "denied",
            json!([{"IPProtocol": "all"}]),
            &[]
        ),
        egress(
            "allow-ssh",
            "n",
            20,
            "allowed",
            json!([{"IPProtocol": "tcp", "ports": ["22"]}]),
            &[]
        ),
    ]);
    let (_, findings) = scan_docs(
        &[("fw.json", deny_first)],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009",
            "EG012", "EG013",
        ],
    );
    assert_eq!(ids(&findings, "n"), Vec::<String>::new());
    assert_eq!(
        rule_findings(&findings, "EG012"),
        ["allow-ssh".to_string()].into_iter().collect()
    );
}

#[test]
fn gcloud_array_and_rest_items_read_the_same() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gcp/tags-and-shadowing");
    let read = |f: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap()
    };
    let rest_fw = read("firewalls.json");
    let rest_vm = read("instances.json");
    let rest_net = read("networks.json");
    // The same resources as gcloud prints them: top-level arrays.
    let array_fw = rest_fw["items"].clone();
    let array_net = rest_net["items"].clone();
    let mut array_vm = Vec::new();
    for scope in rest_vm["items"].as_object().unwrap().values() {
        if let Some(list) = scope.get("instances").and_then(Value::as_array) {
            array_vm.extend(list.iter().cloned());
        }
    }
    let mut array_vm = Value::Array(array_vm);
    // gcloud's own `kind`-less spelling must be read by its fields alone.
    for x in array_vm.as_array_mut().unwrap() {
        x.as_object_mut().unwrap().remove("kind");
    }
    let (inv_a, mut a) = scan_docs(
        &[
            ("a.json", array_fw),
            ("b.json", array_vm),
            ("c.json", array_net),
        ],
        crate::inputs::EVERY,
    );
    let (inv_b, mut b) = scan_docs(
        &[
            ("a.json", rest_fw),
            ("b.json", rest_vm),
            ("c.json", rest_net),
        ],
        crate::inputs::EVERY,
    );
    assert_eq!(target_ids(&inv_a), target_ids(&inv_b));
    let key = |f: &Finding| (f.fingerprint().into_owned(), f.message.clone());
    a.sort_by_key(key);
    b.sort_by_key(key);
    assert_eq!(a, b);
    assert!(!a.is_empty());
}

#[test]
fn kind_less_resources_are_detected_by_their_fields() {
    let mut fw = egress(
        "allow-all",
        "n",
        1000,
        "allowed",
        json!([{"IPProtocol": "all"}]),
        &[],
    );
    fw.as_object_mut().unwrap().remove("kind");
    fw["someFutureField"] = json!({"x": 1});
    let route = json!([{"name": "r1", "network": format!("{NET}n"), "destRange": "10.0.0.0/24", "priority": 0,
                        "nextHopNetwork": format!("{NET}n")}]);
    let (inv, findings) = scan_docs(
        &[("fw.json", json!([fw])), ("routes.json", route)],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(ids(&findings, "n"), strs(&OPEN));
    assert_eq!(inv.targets[0].route.internet_path, Some(false));
    assert!(
        find(&findings, "n", "EG001").notes[0].contains("network n has no default internet route")
    );
}

#[test]
fn malformed_input_names_the_file_and_field() {
    let mut bad = egress(
        "allow-web",
        "n",
        1000,
        "allowed",
        json!([{"ports": ["443"]}]),
        &[],
    );
    let err = load_err(&[("rules.json", json!([bad.clone()]))]);
    assert!(
        err.contains("rules.json")
            && err.contains("allow-web")
            && err.contains("allowed[0]")
            && err.contains("IPProtocol"),
        "{err}"
    );
    bad["allowed"] = json!([{"IPProtocol": "tcp", "ports": ["http"]}]);
    let err = load_err(&[("rules.json", json!({"items": [bad.clone()]}))]);
    assert!(
        err.contains("rules.json") && err.contains("items[0]") && err.contains("ports[0]"),
        "{err}"
    );
    bad["allowed"] = json!([{"IPProtocol": "tcp"}]);
    bad["destinationRanges"] = json!(["300.1.0.0/16"]);
    let err = load_err(&[("rules.json", json!([bad.clone()]))]);
    assert!(
        err.contains("destinationRanges[0]") && err.contains("300.1.0.0/16"),
        "{err}"
    );
    bad["destinationRanges"] = json!(["0.0.0.0/0"]);
    bad["priority"] = json!("high");
    let err = load_err(&[("rules.json", json!([bad.clone()]))]);
    assert!(err.contains("`priority`"), "{err}");
    bad["priority"] = json!(10);
    bad["direction"] = json!("OUTBOUND");
    let err = load_err(&[("rules.json", json!([bad.clone()]))]);
    assert!(
        err.contains("`direction`") && err.contains("OUTBOUND"),
        "{err}"
    );
    // An instance without a network on its NIC; a policy rule without `match`.
    let mut vm = instance("vm-1", "us-east1-b", "n", &[], "x@y");
    vm["networkInterfaces"][0]
        .as_object_mut()
        .unwrap()
        .remove("network");
    let err = load_err(&[("vms.json", json!([vm]))]);
    assert!(
        err.contains("vms.json")
            && err.contains("vm-1")
            && err.contains("networkInterfaces[0]")
            && err.contains("`network`"),
        "{err}"
    );
    let policy = json!({"kind": "compute#firewallPolicy", "name": "pol", "rules": [
        {"priority": 10, "action": "deny", "direction": "EGRESS"}]});
    let err = load_err(&[("pol.json", policy)]);
    assert!(
        err.contains("pol.json")
            && err.contains("pol")
            && err.contains("priority 10")
            && err.contains("`match`"),
        "{err}"
    );
}

#[test]
fn regional_policy_binds_only_its_region() {
    let fw = json!([egress(
        "allow-all",
        "n",
        1000,
        "allowed",
        json!([{"IPProtocol": "all"}]),
        &[]
    )]);
    let policy = json!([{
        "kind": "compute#firewallPolicy", "name": "eu-deny-smb", "region": "https://www.googleapis.com/compute/v1/projects/my-proj-123/regions/europe-west1",
        "selfLink": "https://www.googleapis.com/compute/v1/projects/my-proj-123/regions/europe-west1/firewallPolicies/eu-deny-smb",
        "associations": [{"name": "a", "attachmentTarget": format!("{NET}n")}],
        "rules": [{"priority": 100, "action": "deny", "direction": "EGRESS",
                   "match": {"destIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "tcp", "ports": ["445"]}]}}]
    }]);
    // AFTER_CLASSIC_FIREWALL: the VPC allow-all decides first, so the policy's deny never matters…
    let vms = json!([
        instance("eu-1", "europe-west1-b", "n", &[], "a@b"),
        instance("us-1", "us-east1-b", "n", &[], "a@b")
    ]);
    let (_, findings) = scan_docs(
        &[
            ("fw.json", fw.clone()),
            ("pol.json", policy.clone()),
            ("vm.json", vms.clone()),
        ],
        &["EG002", "EG011"],
    );
    assert!(ids(&findings, "my-proj-123/europe-west1-b/eu-1").contains(&"EG002".to_string()));
    assert_eq!(
        rule_findings(&findings, "EG011"),
        ["eu-deny-smb/100".to_string()].into_iter().collect()
    );
    // …BEFORE_CLASSIC_FIREWALL puts it first, for instances of its region only.
    let net = json!([{"kind": "compute#network", "name": "n", "selfLink": format!("{NET}n"),
                      "networkFirewallPolicyEnforcementOrder": "BEFORE_CLASSIC_FIREWALL"}]);
    let (inv, findings) = scan_docs(
        &[
            ("fw.json", fw.clone()),
            ("pol.json", policy.clone()),
            ("vm.json", vms),
            ("net.json", net.clone()),
        ],
        &["EG002", "EG011"],
    );
    assert!(!ids(&findings, "my-proj-123/europe-west1-b/eu-1").contains(&"EG002".to_string()));
    assert!(ids(&findings, "my-proj-123/us-east1-b/us-1").contains(&"EG002".to_string()));
    assert_eq!(inv.targets.len(), 2);
    // Without instances: once for the policy's region and once for every other region.
    let (inv, findings) = scan_docs(
        &[("fw.json", fw), ("pol.json", policy), ("net.json", net)],
        &["EG002", "EG011"],
    );
    let regions: Vec<Option<String>> = inv
        .targets
        .iter()
        .map(|t| t.region.as_deref().map(String::from))
        .collect();
    assert_eq!(regions, [None, Some("europe-west1".to_string())]);
    let eg002: Vec<Option<String>> = findings
        .iter()
        .filter(|f| f.check_id == "EG002")
        .map(|f| f.region.as_deref().map(String::from))
        .collect();
    assert_eq!(eg002, [None]);
}

#[test]
fn policy_service_accounts_and_secure_tags_make_network_targets() {
    let policy = json!({
        "kind": "compute#firewallPolicy", "name": "9988", "shortName": "folder-egress", "parent": "organizations/123456789012",
        "associations": [{"name": "eng-folder", "attachmentTarget": "folders/4455"}],
        "rules": [
            {"priority": 100, "action": "allow", "direction": "EGRESS", "targetServiceAccounts": ["ci@my-proj-123.iam.gserviceaccount.com"],
             "match": {"destIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "tcp", "ports": ["22"]}]}},
            {"priority": 200, "action": "allow", "direction": "EGRESS", "targetSecureTags": [{"name": "tagValues/281475", "state": "EFFECTIVE"}],
             "match": {"destIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "tcp", "ports": ["3306"]}]}},
            {"priority": 300, "action": "deny", "direction": "EGRESS", "disabled": true,
             "match": {"destIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "all"}]}},
            {"priority": 1000, "action": "deny", "direction": "EGRESS",
             "match": {"destIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "all"}]}}
        ]
    });
    let fw = json!([egress(
        "allow-all",
        "n",
        1000,
        "allowed",
        json!([{"IPProtocol": "all"}]),
        &[]
    )]);
    let (inv, findings) = scan_docs(
        &[("fw.json", fw.clone()), ("pol.json", policy.clone())],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG012",
            "EG013",
        ],
    );
    assert_eq!(
        target_ids(&inv),
        strs(&[
            "n",
            "n[sa:ci@my-proj-123.iam.gserviceaccount.com]",
            "n[securetag:tagValues/281475]"
        ])
    );
    // The folder policy's deny-all at 1000 beats the VPC allow-all for everyone.
    assert_eq!(ids(&findings, "n"), Vec::<String>::new());
    assert_eq!(
        find(
            &findings,
            "n[sa:ci@my-proj-123.iam.gserviceaccount.com]",
            "EG013"
        )
        .evidence[0]
            .name,
        "folder-egress/100"
    );
    assert_eq!(
        find(&findings, "n[securetag:tagValues/281475]", "EG013").message,
        "tcp/3306 is allowed to 100% of public IPv4"
    );
    assert_eq!(
        rule_findings(&findings, "EG012"),
        ["allow-all".to_string()].into_iter().collect()
    );
    // Associated with nothing, the policy applies nowhere, and a warning says so.
    let mut unassociated = policy;
    unassociated.as_object_mut().unwrap().remove("associations");
    let (inv, findings) = scan_docs(
        &[("fw.json", fw), ("pol.json", unassociated)],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG012",
            "EG013",
        ],
    );
    assert_eq!(target_ids(&inv), strs(&["n"]));
    assert_eq!(ids(&findings, "n"), strs(&OPEN));
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.kind == "not-evaluated" && w.source == "folder-egress"));
}

#[test]
fn aggregated_gaps_and_extra_pages_are_reported() {
    let vms = json!({"kind": "compute#instanceAggregatedList", "items": {
        "zones/us-east1-b": {"instances": [instance("vm-1", "us-east1-b", "n", &[], "a@b")]},
        "zones/me-central2-a": {"warning": {"code": "UNREACHABLE", "message": "zone me-central2-a is unreachable"}},
        "zones/us-west4-c": {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "none"}}
    }});
    let fw = json!({"kind": "compute#firewallList", "nextPageToken": "CiAKGjBpNDAwM", "items": [
        egress("allow-all", "n", 1000, "allowed", json!([{"IPProtocol": "all"}]), &[])]});
    let (inv, findings) = scan_docs(
        &[("fw.json", fw), ("vm.json", vms)],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(inv.not_scanned.len(), 2, "{:?}", inv.not_scanned);
    assert_eq!(inv.not_scanned[0].scope, "zones/me-central2-a");
    assert_eq!(inv.not_scanned[0].region.as_deref(), Some("me-central2"));
    assert!(inv.not_scanned[1].scope.ends_with("fw.json"));
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.kind == "truncated-listing" && w.source.ends_with("fw.json")));
    assert_eq!(ids(&findings, "my-proj-123/us-east1-b/vm-1"), strs(&OPEN));
}

#[test]
fn tagged_default_route_and_appliance() {
    let routes = json!({"kind": "compute#routeList", "items": [
        {"kind": "compute#route", "name": "local", "network": format!("{NET}n"), "destRange": "10.0.0.0/24", "priority": 0, "nextHopNetwork": format!("{NET}n")},
        {"kind": "compute#route", "name": "egress-for-nat", "network": format!("{NET}n"), "destRange": "0.0.0.0/0", "priority": 1000,
         "tags": ["nat"], "nextHopGateway": "https://www.googleapis.com/compute/v1/projects/my-proj-123/global/gateways/default-internet-gateway"},
        {"kind": "compute#route", "name": "via-proxy", "network": format!("{NET}n"), "destRange": "0.0.0.0/0", "priority": 1000,
         "tags": ["proxied"], "nextHopInstance": "https://www.googleapis.com/compute/v1/projects/my-proj-123/zones/us-east1-b/instances/squid-1"}
    ]});
    let vms = json!([
        instance("nat-1", "us-east1-b", "n", &["nat"], "a@b"),
        instance("app-1", "us-east1-b", "n", &[], "a@b"),
        instance("app-2", "us-east1-b", "n", &["proxied"], "a@b"),
    ]);
    let (inv, _) = scan_docs(
        &[("routes.json", routes), ("vm.json", vms)],
        crate::inputs::EVERY,
    );
    let route = |id: &str| {
        inv.targets
            .iter()
            .find(|t| t.resource_id.ends_with(id))
            .unwrap()
            .route
            .clone()
    };
    assert_eq!(route("nat-1").internet_path, Some(true));
    assert_eq!(route("app-1").internet_path, Some(false));
    assert_eq!(route("app-2").internet_path, None);
    assert_eq!(
        route("app-2").appliance.as_deref(),
        Some("route via-proxy 0.0.0.0/0 → instance squid-1")
    );
}

#[test]
fn snapshot_documents_read_like_the_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gcp/tags-and-shadowing");
    let mut documents = Vec::new();
    for (file, kind) in [
        ("firewalls.json", "firewalls"),
        ("instances.json", "instances"),
        ("networks.json", "networks"),
    ] {
        let data: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        documents
            .push(json!({"provider": "gcp", "account": "my-proj-123", "kind": kind, "data": data}));
    }
    let snapshot = json!({
        "format": "egress-audit-snapshot/1", "tool_version": "0.1.0",
        "collected_at": "2026-11-25T12:00:00Z", "documents": documents, "not_scanned": []
    });
    let (_, mut from_snapshot) = scan_docs(&[("snapshot.json", snapshot)], crate::inputs::EVERY);
    let (_, mut from_files) = example("tags-and-shadowing", crate::inputs::EVERY);
    let key = |f: &Finding| (f.fingerprint().into_owned(), f.message.clone());
    from_snapshot.sort_by_key(key);
    from_files.sort_by_key(key);
    assert_eq!(from_snapshot, from_files);
}

#[test]
fn kind_less_aggregated_lists_and_empty_ones() {
    let mut vm = instance("vm-1", "us-east1-b", "n", &["web"], "a@b");
    vm.as_object_mut().unwrap().remove("kind");
    let vms = json!({"items": {
        "zones/us-east1-b": {"instances": [vm]},
        "zones/us-east1-c": {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "none"}}
    }});
    let (inv, findings) = scan_docs(
        &[("vm.json", vms)],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(target_ids(&inv), strs(&["my-proj-123/us-east1-b/vm-1"]));
    assert_eq!(inv.targets[0].selectors, strs(&["web", "a@b"]));
    assert_eq!(ids(&findings, "my-proj-123/us-east1-b/vm-1"), strs(&OPEN));
    // Every scope empty: a listing of nothing, read without error and without targets.
    let empty = json!({"items": {"zones/us-east1-b": {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "none"}}}});
    let (inv, _) = scan_docs(
        &[("vm.json", empty)],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert!(inv.targets.is_empty() && inv.not_scanned.is_empty());
    // A page of a REST list without `items` is empty too.
    let (inv, _) = scan_docs(
        &[(
            "fw.json",
            json!({"kind": "compute#firewallList", "id": "projects/p/global/firewalls"}),
        )],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert!(inv.targets.is_empty());
}

#[test]
fn each_nic_is_a_target_on_its_own_network() {
    let mut vm = instance("router-1", "us-east1-b", "front", &[], "a@b");
    vm["networkInterfaces"] = json!([
        {"name": "nic0", "network": format!("{NET}front"), "stackType": "IPV4_ONLY"},
        {"name": "nic1", "network": format!("{NET}back"), "stackType": "IPV4_ONLY"}
    ]);
    let fw = json!([egress(
        "back-deny-all",
        "back",
        1000,
        "denied",
        json!([{"IPProtocol": "all"}]),
        &[]
    )]);
    let (inv, findings) = scan_docs(
        &[("fw.json", fw), ("vm.json", json!([vm]))],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(
        target_ids(&inv),
        strs(&[
            "my-proj-123/us-east1-b/router-1",
            "my-proj-123/us-east1-b/router-1/nic1"
        ])
    );
    assert_eq!(
        ids(&findings, "my-proj-123/us-east1-b/router-1"),
        strs(&OPEN)
    );
    assert_eq!(
        ids(&findings, "my-proj-123/us-east1-b/router-1/nic1"),
        Vec::<String>::new()
    );
}

#[test]
fn policy_rule_details() {
    // targetResources limits a hierarchical rule to the networks it names; a rule without
    // layer4Configs matches every protocol; an FQDN-only destination is never guessed at.
    let policy = json!({
        "kind": "compute#firewallPolicy", "name": "5511", "shortName": "org-egress", "parent": "organizations/42",
        "associations": [{"name": "org", "attachmentTarget": "organizations/42"}],
        "rules": [
            {"priority": 10, "action": "allow", "direction": "EGRESS",
             "match": {"destFqdns": ["updates.example.com"], "layer4Configs": [{"ipProtocol": "tcp", "ports": ["443"]}]}},
            {"priority": 20, "action": "deny", "direction": "EGRESS", "targetResources": [format!("{NET}locked")],
             "match": {"destIpRanges": ["0.0.0.0/0", "::/0"]}},
            {"priority": 30, "action": "deny", "direction": "INGRESS",
             "match": {"srcIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "all"}]}}
        ]
    });
    let fw = json!([
        egress(
            "open-allow",
            "open",
            1000,
            "allowed",
            json!([{"IPProtocol": "all"}]),
            &[]
        ),
        egress(
            "locked-allow",
            "locked",
            1000,
            "allowed",
            json!([{"IPProtocol": "all"}]),
            &[]
        )
    ]);
    let (inv, findings) = scan_docs(
        &[("fw.json", fw), ("pol.json", policy)],
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(target_ids(&inv), strs(&["locked", "open"]));
    assert_eq!(ids(&findings, "open"), strs(&OPEN));
    assert_eq!(ids(&findings, "locked"), Vec::<String>::new());
    let open = inv
        .targets
        .iter()
        .find(|t| t.resource_id == "open")
        .unwrap();
    let org = &open.chains[0].layers[0];
    assert_eq!(org.resource, "org-egress");
    assert_eq!(org.rules.len(), 1, "only the FQDN rule applies to `open`");
    assert!(org.rules[0].traffic.is_empty());
    assert_eq!(org.rules[0].unresolved, strs(&["fqdn:updates.example.com"]));
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.kind == "unresolved-destination"
            && w.source == "org-egress/10"
            && w.message.contains("fqdn:updates.example.com")));
}

#[test]
fn a_nic_sends_only_in_the_address_families_it_has() {
    let fw = json!([egress(
        "allow-all",
        "dual",
        1000,
        "allowed",
        json!([{"IPProtocol": "all"}]),
        &[]
    )]);
    let net = json!([{"kind": "compute#network", "name": "dual", "autoCreateSubnetworks": false,
                      "selfLink": format!("{NET}dual"), "enableUlaInternalIpv6": true}]);
    let mut v4 = instance("v4", "us-east1-b", "dual", &[], "a@b");
    v4["networkInterfaces"][0]
        .as_object_mut()
        .unwrap()
        .remove("stackType");
    let mut v4_explicit = instance("v4x", "us-east1-b", "dual", &[], "a@b");
    v4_explicit["networkInterfaces"][0]["stackType"] = json!("IPV4_ONLY");
    let mut dual = instance("ds", "us-east1-b", "dual", &[], "a@b");
    dual["networkInterfaces"][0]["stackType"] = json!("IPV4_IPV6");
    dual["networkInterfaces"][0]["ipv6AccessConfigs"] = json!([{"type": "DIRECT_IPV6",
        "externalIpv6": "2600:1900:4000:1::", "externalIpv6PrefixLength": 96}]);
    // No stackType, but an IPv6 address: it has IPv6.
    let mut v6_addr = instance("v6a", "us-east1-b", "dual", &[], "a@b");
    v6_addr["networkInterfaces"][0]["ipv6Address"] = json!("fd20:1:2:3::5");
    let mut v6 = instance("v6", "us-east1-b", "dual", &[], "a@b");
    v6["networkInterfaces"][0]["stackType"] = json!("IPV6_ONLY");
    v6["networkInterfaces"][0]["ipv6AccessConfigs"] = json!([{"type": "DIRECT_IPV6"}]);
    let vms = json!([v4, v4_explicit, dual, v6_addr, v6]);
    let (inv, findings) = scan_docs(
        &[
            ("fw.json", fw.clone()),
            ("net.json", net.clone()),
            ("vm.json", vms),
        ],
        &["EG001"],
    );
    let msg = |vm: &str| {
        find(&findings, &format!("my-proj-123/us-east1-b/{vm}"), "EG001")
            .message
            .clone()
    };
    let both = "tcp is allowed to 100% of public IPv4 and 100% of public IPv6; udp is allowed to 100% of public IPv4 and 100% of public IPv6";
    let v4_only = "tcp is allowed to 100% of public IPv4; udp is allowed to 100% of public IPv4";
    let v6_only = "tcp is allowed to 100% of public IPv6; udp is allowed to 100% of public IPv6";
    assert_eq!(msg("v4"), v4_only);
    assert_eq!(msg("v4x"), v4_only);
    assert_eq!(msg("ds"), both);
    assert_eq!(msg("v6a"), both);
    assert_eq!(msg("v6"), v6_only);
    let limit = |id: &str| {
        inv.targets
            .iter()
            .find(|t| t.resource_id == format!("my-proj-123/us-east1-b/{id}"))
            .unwrap()
            .address_limit
            .clone()
    };
    use egress_audit::model::space::{all_v4, all_v6};
    assert_eq!(limit("v4"), Some(all_v4()));
    assert_eq!(limit("ds"), None);
    assert_eq!(limit("v6"), Some(all_v6()));
    // A network-level target knows no NIC: no limit, both families judged.
    let (inv, findings) = scan_docs(&[("fw.json", fw), ("net.json", net)], &["EG001"]);
    assert!(inv.targets.iter().all(|t| t.address_limit.is_none()));
    assert_eq!(find(&findings, "dual", "EG001").message, both);
}

#[test]
fn default_routes_to_an_ip_or_a_tunnel_pass_an_appliance() {
    // A NAT VM reached by `nextHopIp`, on-premises behind a tunnel: traffic may still reach the
    // internet, so the findings keep their severity and name the hop.
    let routes = json!({"kind": "compute#routeList", "items": [
        {"kind": "compute#route", "name": "local", "network": format!("{NET}n"), "destRange": "10.0.0.0/24", "priority": 0, "nextHopNetwork": format!("{NET}n")},
        {"kind": "compute#route", "name": "via-nat-vm", "network": format!("{NET}n"), "destRange": "0.0.0.0/0", "priority": 900,
         "tags": ["natted"], "nextHopIp": "10.0.0.250"},
        {"kind": "compute#route", "name": "forced-tunnel", "network": format!("{NET}n"), "destRange": "0.0.0.0/0", "priority": 1000,
         "nextHopVpnTunnel": "https://www.googleapis.com/compute/v1/projects/my-proj-123/regions/us-east1/vpnTunnels/onprem-1"}
    ]});
    let vms = json!([
        instance("app-1", "us-east1-b", "n", &["natted"], "a@b"),
        instance("app-2", "us-east1-b", "n", &[], "a@b"),
    ]);
    let (inv, findings) = scan_docs(&[("routes.json", routes), ("vm.json", vms)], &["EG001"]);
    let route = |id: &str| {
        inv.targets
            .iter()
            .find(|t| t.resource_id.ends_with(id))
            .unwrap()
            .route
            .clone()
    };
    assert_eq!(route("app-1").internet_path, None);
    assert_eq!(
        route("app-1").appliance.as_deref(),
        Some("route via-nat-vm 0.0.0.0/0 → IP 10.0.0.250")
    );
    assert_eq!(
        route("app-2").appliance.as_deref(),
        Some("route forced-tunnel 0.0.0.0/0 → VPN tunnel onprem-1")
    );
    let f = find(&findings, "my-proj-123/us-east1-b/app-2", "EG001");
    assert_eq!(f.severity.to_string(), "high");
    assert_eq!(
        f.notes,
        ["egress passes an appliance: route forced-tunnel 0.0.0.0/0 → VPN tunnel onprem-1"]
    );
}

#[test]
fn goto_next_hands_the_match_to_the_vpc_rules() {
    // The network policy runs first; its tcp/22 goto_next hands ssh to the VPC rules, which deny
    // it; its allow-all at 200 decides everything else.
    let policy = json!({"kind": "compute#firewallPolicy", "name": "np", "selfLink": format!("https://www.googleapis.com/compute/v1/projects/my-proj-123/global/firewallPolicies/np"),
    "associations": [{"name": "a", "attachmentTarget": format!("{NET}n")}],
    "rules": [
        {"priority": 100, "action": "goto_next", "direction": "EGRESS",
         "match": {"destIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "tcp", "ports": ["22"]}]}},
        {"priority": 200, "action": "allow", "direction": "EGRESS",
         "match": {"destIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "all"}]}}
    ]});
    let net = json!([{"kind": "compute#network", "name": "n", "selfLink": format!("{NET}n"),
                      "autoCreateSubnetworks": false, "networkFirewallPolicyEnforcementOrder": "BEFORE_CLASSIC_FIREWALL"}]);
    let fw = json!([egress(
        "deny-all",
        "n",
        1000,
        "denied",
        json!([{"IPProtocol": "all"}]),
        &[]
    )]);
    let (inv, findings) = scan_docs(
        &[("pol.json", policy), ("net.json", net), ("fw.json", fw)],
        &["EG013"],
    );
    let t = &inv.targets[0];
    let out = egress_audit::eval::eval_target(t);
    let public = egress_audit::model::space::parse_addrs("8.8.8.8").unwrap();
    let tcp = |p: &str| {
        egress_audit::model::TrafficSet::rule(
            Some(6),
            Some(&egress_audit::model::PortSet::parse_ports(p).unwrap()),
            &public,
        )
    };
    assert!(!out.allowed.intersects(&tcp("22")));
    assert!(tcp("21").is_subset(&out.allowed));
    assert!(tcp("23").is_subset(&out.allowed));
    // EG013 names tcp/22 among the risky ports only if it were allowed.
    let risky = &find(&findings, "n", "EG013").message;
    assert!(!risky.contains("tcp/22,") && !risky.starts_with("tcp/22 "));
    // With the classic rules first (the default), the VPC deny-all decides everything.
    let net_after = json!([{"kind": "compute#network", "name": "n", "selfLink": format!("{NET}n"), "autoCreateSubnetworks": false}]);
    let policy = inv.targets[0].chains[0].layers[0].clone();
    assert_eq!(policy.resource, "np");
    let (_, findings) = scan_docs(
        &[
            ("net.json", net_after),
            (
                "fw.json",
                json!([egress(
                    "deny-all",
                    "n",
                    1000,
                    "denied",
                    json!([{"IPProtocol": "all"}]),
                    &[]
                )]),
            ),
            (
                "pol.json",
                json!({"kind": "compute#firewallPolicy", "name": "np",
            "selfLink": "https://www.googleapis.com/compute/v1/projects/my-proj-123/global/firewallPolicies/np",
            "associations": [{"name": "a", "attachmentTarget": format!("{NET}n")}],
            "rules": [{"priority": 200, "action": "allow", "direction": "EGRESS",
                       "match": {"destIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "all"}]}}]}),
            ),
        ],
        &["EG013"],
    );
    assert_eq!(ids(&findings, "n"), Vec::<String>::new());
}

#[test]
fn effective_firewalls_alone_supply_vpc_rules_and_network_policies() {
    let effective = json!({
        "network": format!("{NET}n"),
        "firewalls": [egress("allow-smb", "n", 1000, "allowed", json!([{"IPProtocol": "tcp", "ports": ["445"]}]), &["0.0.0.0/0"]),
                      egress("deny-all", "n", 2000, "denied", json!([{"IPProtocol": "all"}]), &[])],
        "firewallPolicys": [
            {"name": "np", "type": "NETWORK", "rules": [
                {"priority": 10, "action": "allow", "direction": "EGRESS",
                 "match": {"destIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "tcp", "ports": ["23"]}]}}]},
            {"name": "1234", "shortName": "org-pol", "type": "HIERARCHY", "rules": [
                {"priority": 5, "action": "goto_next", "direction": "EGRESS", "match": {"destIpRanges": ["0.0.0.0/0"]}}]}
        ]
    });
    let (inv, findings) = scan_docs(
        &[("eff.json", effective.clone())],
        &["EG002", "EG009", "EG012"],
    );
    let layers: Vec<&str> = inv.targets[0].chains[0]
        .layers
        .iter()
        .map(|l| l.resource.as_str())
        .collect();
    assert_eq!(layers, ["org-pol", "n", "np", "n (implied rules)"]);
    // tcp/445 by the VPC rule; tcp/23 would be allowed by the policy but the VPC deny comes first.
    assert_eq!(ids(&findings, "n"), strs(&["EG002", "EG009"]));
    // With the firewall listing as well, the same rules are not read twice (no redundant copies).
    let listing = json!([
        egress(
            "allow-smb",
            "n",
            1000,
            "allowed",
            json!([{"IPProtocol": "tcp", "ports": ["445"]}]),
            &["0.0.0.0/0"]
        ),
        egress(
            "deny-all",
            "n",
            2000,
            "denied",
            json!([{"IPProtocol": "all"}]),
            &[]
        )
    ]);
    let (inv, findings2) = scan_docs(
        &[("eff.json", effective), ("fw.json", listing)],
        &["EG002", "EG009", "EG012"],
    );
    assert_eq!(inv.targets[0].chains[0].layers[1].rules.len(), 2);
    assert_eq!(findings.len(), findings2.len());
    // Only the policy's tcp/23 allow, which the VPC deny-all decides first, is redundant.
    let redundant: BTreeSet<String> = ["np/10".to_string()].into();
    assert_eq!(rule_findings(&findings, "EG012"), redundant);
    assert_eq!(rule_findings(&findings2, "EG012"), redundant);
}

#[test]
fn a_policy_listed_without_rules_warns_and_gives_way_to_its_description() {
    let listed = json!([{"kind": "compute#firewallPolicy", "name": "np",
        "selfLink": "https://www.googleapis.com/compute/v1/projects/my-proj-123/global/firewallPolicies/np",
        "associations": [{"name": "a", "attachmentTarget": format!("{NET}n")}]}]);
    let fw = json!([egress(
        "allow-all",
        "n",
        1000,
        "allowed",
        json!([{"IPProtocol": "all"}]),
        &[]
    )]);
    let (inv, _) = scan_docs(
        &[("list.json", listed.clone()), ("fw.json", fw.clone())],
        &["EG002"],
    );
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.kind == "not-evaluated" && w.source == "np" && w.message.contains("`rules`")));
    let mut described = listed[0].clone();
    described["rules"] = json!([{"priority": 10, "action": "deny", "direction": "EGRESS",
        "match": {"destIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "tcp", "ports": ["445"]}]}}]);
    let (inv, findings) = scan_docs(
        &[
            ("list.json", listed),
            ("describe.json", described),
            ("fw.json", fw),
        ],
        &["EG002"],
    );
    assert!(!inv.warnings.iter().any(|w| w.kind == "not-evaluated"));
    let policy_layers = inv.targets[0].chains[0]
        .layers
        .iter()
        .filter(|l| l.resource == "np")
        .count();
    assert_eq!(policy_layers, 1);
    // The VPC allow-all comes first (AFTER_CLASSIC_FIREWALL is the default): smb still allowed.
    assert!(ids(&findings, "n").contains(&"EG002".to_string()));
}

#[test]
fn egress_policy_rules_with_source_conditions_are_flagged_as_approximate() {
    let policy = json!({"kind": "compute#firewallPolicy", "name": "np",
    "selfLink": "https://www.googleapis.com/compute/v1/projects/my-proj-123/global/firewallPolicies/np",
    "associations": [{"name": "a", "attachmentTarget": format!("{NET}n")}],
    "rules": [
        {"priority": 10, "action": "deny", "direction": "EGRESS",
         "match": {"srcIpRanges": ["10.9.0.0/24"], "destIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "all"}]}},
        {"priority": 20, "action": "allow", "direction": "INGRESS",
         "match": {"srcIpRanges": ["35.235.240.0/20"], "layer4Configs": [{"ipProtocol": "tcp", "ports": ["22"]}]}}
    ]});
    let (inv, _) = scan_docs(&[("pol.json", policy)], crate::inputs::EVERY);
    let approx: Vec<(&str, &str)> = inv
        .warnings
        .iter()
        .filter(|w| w.kind == "approximated")
        .map(|w| (w.source.as_str(), w.message.as_str()))
        .collect();
    assert_eq!(approx.len(), 1, "only the egress rule: {approx:?}");
    assert_eq!(approx[0].0, "np/10");
    assert!(approx[0].1.contains("srcIpRanges"));
}

#[test]
fn more_specific_routes_override_the_default_route() {
    // `0.0.0.0/1` + `128.0.0.0/1` to an ILB beat the default route for every address, whatever
    // their priority; a tagged /8 to the gateway leaves the rest to the ILB.
    let gw = "https://www.googleapis.com/compute/v1/projects/my-proj-123/global/gateways/default-internet-gateway";
    let ilb = "https://www.googleapis.com/compute/v1/projects/my-proj-123/regions/us-east1/forwardingRules/fw-ilb";
    let routes = json!({"kind": "compute#routeList", "items": [
        {"kind": "compute#route", "name": "default-route-1", "network": format!("{NET}n"), "destRange": "0.0.0.0/0", "priority": 0, "nextHopGateway": gw},
        {"kind": "compute#route", "name": "lower-half", "network": format!("{NET}n"), "destRange": "0.0.0.0/1", "priority": 5000, "nextHopIlb": ilb},
        {"kind": "compute#route", "name": "upper-half", "network": format!("{NET}n"), "destRange": "128.0.0.0/1", "priority": 5000, "nextHopIlb": ilb},
        {"kind": "compute#route", "name": "direct-google", "network": format!("{NET}n"), "destRange": "8.0.0.0/8", "priority": 1000,
         "tags": ["direct"], "nextHopGateway": gw},
        {"kind": "compute#route", "name": "bad-range", "network": format!("{NET}n"), "destRange": "not-a-range", "priority": 1, "nextHopGateway": gw}
    ]});
    let vms = json!([
        instance("app-1", "us-east1-b", "n", &[], "a@b"),
        instance("app-2", "us-east1-b", "n", &["direct"], "a@b"),
    ]);
    let (inv, _) = scan_docs(
        &[("routes.json", routes), ("vm.json", vms)],
        crate::inputs::EVERY,
    );
    let route = |id: &str| {
        inv.targets
            .iter()
            .find(|t| t.resource_id.ends_with(id))
            .unwrap()
            .route
            .clone()
    };
    let app1 = route("app-1");
    assert_eq!(app1.internet_path, None);
    assert!(
        app1.appliance
            .as_deref()
            .is_some_and(|a| a.ends_with("/1 → internal load balancer fw-ilb")),
        "{app1:?}"
    );
    let app2 = route("app-2");
    assert_eq!(app2.internet_path, Some(true));
    assert!(app2.appliance.is_some());
}

#[test]
fn effective_firewalls_without_policies_are_read() {
    let effective = json!({"firewalls": [
        egress(
            "allow-ftp",
            "n",
            1000,
            "allowed",
            json!([{"IPProtocol": "tcp", "ports": ["20-21"]}]),
            &["0.0.0.0/0"]
        ),
        egress(
            "deny-all",
            "n",
            2000,
            "denied",
            json!([{"IPProtocol": "all"}]),
            &[]
        )
    ]});
    let (_, findings) = scan_docs(&[("eff.json", effective)], &["EG004", "EG009"]);
    assert_eq!(ids(&findings, "n"), strs(&["EG004", "EG009"]));
}

#[test]
fn instances_carry_their_identity() {
    let mut vm = instance("web-1", "us-central1-a", "prod", &[], "sa@x");
    vm["id"] = json!("4567890123456789012");
    vm["networkInterfaces"][0]["accessConfigs"] =
        json!([{"type": "ONE_TO_ONE_NAT", "name": "External NAT", "natIP": "34.1.2.3"}]);
    vm["networkInterfaces"].as_array_mut().unwrap().push(
        json!({"name": "nic1", "network": format!("{NET}backend"), "networkIP": "10.1.0.5",
            "stackType": "IPV4_IPV6", "ipv6Address": "fd20:1:2:3::5"}),
    );
    let net =
        |n: &str| json!({"kind": "compute#network", "name": n, "selfLink": format!("{NET}{n}")});
    let (inv, _) = scan_docs(
        &[
            ("instances.json", json!([vm])),
            ("networks.json", json!([net("prod"), net("backend")])),
        ],
        crate::inputs::EVERY,
    );
    let nic0 = inv
        .targets
        .iter()
        .find(|t| t.resource_id == "my-proj-123/us-central1-a/web-1")
        .expect("nic0 target");
    assert_eq!(
        nic0.identity.instance_ids,
        strs(&["4567890123456789012", "web-1"])
    );
    assert_eq!(nic0.identity.interface_ids, strs(&["web-1/nic0"]));
    let addrs: Vec<String> = nic0
        .identity
        .addresses
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(addrs, strs(&["10.0.0.5", "34.1.2.3"]));
    assert_eq!(nic0.identity.network.as_deref(), Some("my-proj-123/prod"));
    let nic1 = inv
        .targets
        .iter()
        .find(|t| t.resource_id == "my-proj-123/us-central1-a/web-1/nic1")
        .expect("nic1 target");
    assert_eq!(nic1.identity.interface_ids, strs(&["web-1/nic1"]));
    let addrs: Vec<String> = nic1
        .identity
        .addresses
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(addrs, strs(&["10.1.0.5", "fd20:1:2:3::5"]));
}
