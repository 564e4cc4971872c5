//! The GCP normalizer on real-shaped exports: `gcloud compute … --format=json` output
//! (tests/fixtures/gcp/gcloud) and the same resources as Compute REST replays
//! (tests/fixtures/gcp/rest: paged lists with `nextPageToken`, aggregated lists with warning
//! scopes). Both must give exactly the same findings, with the deciding rules as evidence.
//! Last, a no-panic property: randomly damaged copies of every GCP input load to Ok or Err.

use egress_audit::eval::eval_target;
use egress_audit::model::space::{all_v4, parse_addrs};
use egress_audit::model::{Action, Finding, Target, TrafficSet};
use egress_audit::normalize::{DocContext, Inventory, Loader, Options};
use serde_json::Value;
use std::path::{Path, PathBuf};

use crate::inputs;

const P: &str = "acme-prod-4821";

fn fixture(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gcp")
        .join(dir)
}

fn scan(paths: &[PathBuf], ids: &[&str]) -> (Inventory, Vec<Finding>) {
    inputs::scan_paths(paths, ids)
}

/// The gcloud fixture files, leaving out those named in `skip`.
fn gcloud_files(skip: &[&str]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixture("gcloud"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !skip.iter().any(|s| p.ends_with(s)))
        .collect();
    v.sort();
    v
}

/// One line per finding: check, severity, resource, and every evidence entry.
fn lines(findings: &[Finding]) -> Vec<String> {
    let mut v: Vec<String> = findings
        .iter()
        .map(|f| {
            let ev: Vec<String> = f
                .evidence
                .iter()
                .map(|e| {
                    format!(
                        "{} {} {} {} {} {}",
                        e.name,
                        e.action,
                        e.priority.map_or("-".into(), |p| p.to_string()),
                        e.protocol,
                        e.ports,
                        e.destination
                    )
                })
                .collect();
            let rule = f
                .rule
                .as_deref()
                .map(|r| format!(" [{r}]"))
                .unwrap_or_default();
            format!(
                "{} {} {}{rule} | {}",
                f.check_id,
                f.severity,
                f.resource_id,
                ev.join("; ")
            )
        })
        .collect();
    v.sort();
    v
}

fn target<'a>(inv: &'a Inventory, id: &str) -> &'a Target {
    inv.targets
        .iter()
        .find(|t| t.resource_id == id)
        .unwrap_or_else(|| panic!("no target {id}"))
}

fn find<'a>(findings: &'a [Finding], resource: &str, check: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.resource_id == resource && f.check_id == check)
        .unwrap_or_else(|| panic!("no {check} on {resource}"))
}

fn warning_keys(inv: &Inventory) -> Vec<String> {
    let mut v: Vec<String> = inv
        .warnings
        .iter()
        .map(|w| format!("{} {}", w.kind, w.source))
        .collect();
    v.sort();
    v
}

const WEB: &str = "acme-prod-4821/us-central1-a/web-1";
const BATCH: &str = "acme-prod-4821/us-central1-b/batch-1";
const BATCH_NIC1: &str = "acme-prod-4821/us-central1-b/batch-1/nic1";
const LEGACY: &str = "acme-prod-4821/europe-west1-c/legacy-1";

/// What the instance-level scan of the fixture project must find, and why:
/// - legacy-1 sits on a Shared VPC network none of whose rules were exported: only the org
///   policy (deny tcp/445) and the implied allow apply, so all but EG002 fire;
/// - batch-1's nic0 is selected by `prod-allow-batch` (its service account; `priority` absent =
///   1000, `destinationRanges` absent = 0.0.0.0/0, `tcp 0-65535` + bare `udp`); tcp/23 and 445
///   are denied first at 900 (`IPProtocol: "6"`), so EG002/EG003 do not fire;
/// - web-1 (tag `web`) gets only tcp/80,443 to 0.0.0.0/0, whose route is a tagged ILB route;
/// - batch-1's nic1 is on mgmt-vpc, whose network policy runs first (BEFORE_CLASSIC_FIREWALL):
///   `apply_security_profile_group` tcp/8443 is an allow, then the VPC's tcp/443; the default
///   route was deleted, so both findings drop to info.
const EXPECTED: &[&str] = &[
    "EG001 high acme-prod-4821/europe-west1-c/legacy-1 | implied-allow-egress allow 65535 all all 0.0.0.0/0",
    "EG001 high acme-prod-4821/us-central1-b/batch-1 | prod-allow-batch allow 1000 tcp,udp tcp:all; udp:all 0.0.0.0/0",
    "EG003 high acme-prod-4821/europe-west1-c/legacy-1 | implied-allow-egress allow 65535 all all 0.0.0.0/0",
    "EG004 medium acme-prod-4821/europe-west1-c/legacy-1 | implied-allow-egress allow 65535 all all 0.0.0.0/0",
    "EG004 medium acme-prod-4821/us-central1-b/batch-1 | prod-allow-batch allow 1000 tcp,udp tcp:all; udp:all 0.0.0.0/0",
    "EG005 medium acme-prod-4821/europe-west1-c/legacy-1 | implied-allow-egress allow 65535 all all 0.0.0.0/0",
    "EG006 medium acme-prod-4821/europe-west1-c/legacy-1 | implied-allow-egress allow 65535 all all 0.0.0.0/0",
    "EG006 medium acme-prod-4821/us-central1-b/batch-1 | prod-allow-batch allow 1000 tcp,udp tcp:all; udp:all 0.0.0.0/0",
    "EG007 low acme-prod-4821/europe-west1-c/legacy-1 | implied-allow-egress allow 65535 all all 0.0.0.0/0",
    "EG008 medium acme-prod-4821/europe-west1-c/legacy-1 | implied-allow-egress allow 65535 all all 0.0.0.0/0",
    "EG008 medium acme-prod-4821/us-central1-a/web-1 | prod-allow-web allow 900 tcp 80,443 0.0.0.0/0",
    "EG008 medium acme-prod-4821/us-central1-b/batch-1 | prod-allow-batch allow 1000 tcp,udp tcp:all; udp:all 0.0.0.0/0",
    "EG008 medium acme-prod-4821/us-central1-b/batch-1/nic1 | mgmt-allow-https allow 1000 tcp 443 0.0.0.0/0",
    "EG009 low acme-prod-4821/us-central1-a/web-1 | prod-allow-web allow 900 tcp 80,443 0.0.0.0/0",
    "EG009 low acme-prod-4821/us-central1-b/batch-1/nic1 | vpc-egress-policy/400 allow 400 tcp 8443 0.0.0.0/0; mgmt-allow-https allow 1000 tcp 443 0.0.0.0/0",
    "EG013 medium acme-prod-4821/europe-west1-c/legacy-1 | implied-allow-egress allow 65535 all all 0.0.0.0/0",
    "EG013 medium acme-prod-4821/us-central1-b/batch-1 | prod-allow-batch allow 1000 tcp,udp tcp:all; udp:all 0.0.0.0/0",
];

#[test]
fn gcloud_exports_give_the_expected_findings() {
    let (inv, findings) = scan(
        &[fixture("gcloud")],
        &[
            "EG001", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009", "EG013",
        ],
    );
    assert_eq!(lines(&findings), EXPECTED);
    let mut ids: Vec<&str> = inv.targets.iter().map(|t| t.resource_id.as_str()).collect();
    ids.sort();
    // `default` has no instance in the listing: no target, a warning instead.
    assert_eq!(ids, [LEGACY, WEB, BATCH, BATCH_NIC1]);
    assert_eq!(
        warning_keys(&inv),
        [
            "layer7-inspection vpc-egress-policy/400",
            "not-evaluated default",
            "partial-data shared-vpc",
            "unresolved-destination vpc-egress-policy/100",
            "unresolved-destination vpc-egress-policy/200",
            "unresolved-destination vpc-egress-policy/600",
            "unresolved-destination vpc-egress-policy/700",
            "unresolved-target vpc-egress-policy/800",
        ]
    );
    assert!(inv.not_scanned.is_empty());
    let w = |kind: &str| {
        inv.warnings
            .iter()
            .find(|w| w.kind == kind)
            .unwrap()
            .message
            .clone()
    };
    assert!(w("partial-data").contains("acme-host-1100"));
    assert!(w("layer7-inspection").contains("ips-strict"));

    // Messages say which family: web-1 is dual-stack but its rule names 0.0.0.0/0 only.
    assert_eq!(
        find(&findings, WEB, "EG009").message,
        "tcp/80,443 is allowed to 100% of public IPv4 (up to 3702258688 addresses on one port); name the destinations it needs"
    );
    assert_eq!(
        find(&findings, BATCH, "EG001").message,
        "tcp is allowed to 100% of public IPv4; udp is allowed to 100% of public IPv4"
    );
    // Route context: a tagged ILB default route for web-1 only; no default route on mgmt-vpc.
    assert_eq!(
        find(&findings, WEB, "EG008").notes,
        ["egress passes an appliance: route prod-web-via-ilb 0.0.0.0/0 → internal load balancer egress-fw-ilb"]
    );
    assert!(find(&findings, BATCH, "EG001").notes.is_empty());
    let nic1 = find(&findings, BATCH_NIC1, "EG009");
    assert_eq!(nic1.severity.to_string(), "low");
    assert_eq!(nic1.original_severity, None);
    assert!(nic1.notes[0].starts_with("no internet path: network mgmt-vpc"));
}

#[test]
fn layers_follow_gcp_evaluation_order() {
    let (inv, _) = scan(&[fixture("gcloud")], inputs::EVERY);
    let layers = |id: &str| -> Vec<String> {
        target(&inv, id).chains[0]
            .layers
            .iter()
            .map(|l| l.resource.clone())
            .collect()
    };
    // AFTER_CLASSIC_FIREWALL: org policy, VPC rules, network policy, implied rules.
    assert_eq!(
        layers(BATCH),
        [
            "org-baseline",
            "prod-vpc",
            "vpc-egress-policy",
            "prod-vpc (implied rules)"
        ]
    );
    // BEFORE_CLASSIC_FIREWALL: the network policy before the VPC rules.
    assert_eq!(
        layers(BATCH_NIC1),
        [
            "org-baseline",
            "vpc-egress-policy",
            "mgmt-vpc",
            "mgmt-vpc (implied rules)"
        ]
    );
    // An unlisted network still gets the organization's policy and the implied rules.
    assert_eq!(
        layers(LEGACY),
        ["org-baseline", "shared-vpc", "shared-vpc (implied rules)"]
    );
    // web-1's VPC rules: the deny before the allow at 900, the disabled rule and the rule for
    // another service account absent, INGRESS rules absent.
    let web = target(&inv, WEB);
    let vpc = &web.chains[0].layers[1];
    let names: Vec<(&str, Option<i64>, Action)> = vpc
        .rules
        .iter()
        .map(|r| (r.name.as_str(), r.priority, r.action))
        .collect();
    assert_eq!(
        names,
        [
            ("prod-deny-smb-telnet", Some(900), Action::Deny),
            ("prod-allow-web", Some(900), Action::Allow),
            ("prod-allow-tunnels", Some(1000), Action::Allow),
            ("prod-deny-all", Some(65000), Action::Deny),
        ]
    );
    // Protocol numbers and names: ipip 4, esp 50, ah 51, "132" sctp (all ports), sctp/2905.
    let tunnels = &vpc.rules[2];
    assert_eq!(tunnels.protocol, "ipip,esp,ah,132,sctp");
    let peer = parse_addrs("35.199.0.10").unwrap();
    for proto in [4u8, 50, 51, 132] {
        let t = TrafficSet::rule(Some(proto), None, &peer);
        assert!(t.is_subset(&tunnels.traffic), "protocol {proto}");
    }
    assert!(!TrafficSet::rule(Some(47), None, &peer).is_subset(&tunnels.traffic));
    // The network has IPv6: the implied rules include ::/0; deny-all names `::/0` too.
    let implied: Vec<&str> = web.chains[0].layers[3]
        .rules
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        implied,
        [
            "implied-allow-egress",
            "implied-allow-egress-ipv6",
            "implied-deny-egress"
        ]
    );
    // Address families: web-1 is dual-stack, batch-1's NICs IPv4 only (stackType set / absent).
    assert_eq!(web.address_limit, None);
    assert_eq!(target(&inv, BATCH).address_limit, Some(all_v4()));
    assert_eq!(target(&inv, BATCH_NIC1).address_limit, Some(all_v4()));
    // Labels and selectors; tags.items absent and empty both mean no tags.
    assert_eq!(web.labels.get("team").map(String::as_str), Some("web"));
    assert_eq!(
        web.selectors,
        [
            "http-server",
            "web",
            "714508299437-compute@developer.gserviceaccount.com"
        ]
    );
    assert_eq!(
        target(&inv, BATCH).selectors,
        [format!("batch@{P}.iam.gserviceaccount.com")]
    );
    assert!(target(&inv, LEGACY).selectors.is_empty());
    // A TERMINATED instance is still judged: its rules apply as soon as it starts.
    let out = eval_target(target(&inv, BATCH));
    assert!(!out.allowed.is_empty());
}

#[test]
fn rest_replays_give_the_same_findings_as_gcloud() {
    let (g_inv, gcloud) = scan(
        &[fixture("gcloud")],
        &[
            "EG001", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009", "EG013",
        ],
    );
    let (r_inv, rest) = scan(
        &[fixture("rest")],
        &[
            "EG001", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009", "EG013",
        ],
    );
    assert_eq!(lines(&rest), EXPECTED);
    assert_eq!(
        serde_json::to_value(&gcloud).unwrap(),
        serde_json::to_value(&rest).unwrap()
    );
    // Both pages of the firewall listing were given: no partial-data warning for them.
    assert_eq!(warning_keys(&r_inv), warning_keys(&g_inv));
    // The aggregated instance list had one unreachable zone (NO_RESULTS_ON_PAGE is no gap).
    assert_eq!(r_inv.not_scanned.len(), 1);
    assert_eq!(r_inv.not_scanned[0].scope, "zones/me-central2-a");
    assert_eq!(r_inv.not_scanned[0].region.as_deref(), Some("me-central2"));
    // Without its last page, the firewall listing is cut short and says so.
    let rest_dir = fixture("rest");
    let files: Vec<PathBuf> = std::fs::read_dir(&rest_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with("firewalls-page2.json"))
        .collect();
    let (inv, _) = scan(
        &files,
        &[
            "EG001", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009", "EG013",
        ],
    );
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.kind == "truncated-listing" && w.source.ends_with("firewalls-page1.json")));
    assert!(inv
        .not_scanned
        .iter()
        .any(|n| n.scope.ends_with("firewalls-page1.json")));
}

#[test]
fn network_level_targets_without_instances() {
    let (inv, findings) = scan(
        &gcloud_files(&["instances.json"]),
        &[
            "EG001", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009", "EG013",
        ],
    );
    let mut ids: Vec<&str> = inv.targets.iter().map(|t| t.resource_id.as_str()).collect();
    ids.sort();
    let sa = format!("prod-vpc[sa:batch@{P}.iam.gserviceaccount.com]");
    assert_eq!(
        ids,
        [
            "default",
            "mgmt-vpc",
            "mgmt-vpc[securetag:tagValues/281484371026537]",
            "prod-vpc",
            sa.as_str(),
            "prod-vpc[securetag:tagValues/281484371026537]",
            "prod-vpc[tag:web]",
        ]
    );
    // Network-level targets know no NIC: no address-family limit.
    assert!(inv.targets.iter().all(|t| t.address_limit.is_none()));
    let of = |id: &str| -> Vec<String> {
        let mut v: Vec<String> = findings
            .iter()
            .filter(|f| f.resource_id == id)
            .map(|f| format!("{} {}", f.check_id, f.severity))
            .collect();
        v.sort();
        v
    };
    // Untagged instances on prod-vpc may only reach the tunnel peer: nothing to report.
    assert!(of("prod-vpc").is_empty());
    assert_eq!(of("prod-vpc[tag:web]"), ["EG008 medium", "EG009 low"]);
    assert_eq!(
        of(&sa),
        [
            "EG001 high",
            "EG004 medium",
            "EG006 medium",
            "EG008 medium",
            "EG013 medium"
        ]
    );
    // `default` has only the implied rules under the org policy's tcp/445 deny.
    assert_eq!(
        of("default"),
        [
            "EG001 high",
            "EG003 high",
            "EG004 medium",
            "EG005 medium",
            "EG006 medium",
            "EG007 low",
            "EG008 medium",
            "EG013 medium"
        ]
    );
    assert_eq!(of("mgmt-vpc"), ["EG008 medium", "EG009 low"]);
    // The secure-tag rule (deny tcp/25) builds a target on each associated network; tcp/25
    // was never allowed there anyway.
    assert!(of("prod-vpc[securetag:tagValues/281484371026537]").is_empty());
    assert_eq!(
        of("mgmt-vpc[securetag:tagValues/281484371026537]"),
        ["EG008 medium", "EG009 low"]
    );
    // The tagged `proxied` route does not apply to untagged instances of `default`.
    assert_eq!(target(&inv, "default").route.internet_path, Some(true));
}

// ---- no panics on damaged input ----------------------------------------------------------------

/// A small deterministic generator (xorshift64*), so a failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Every node of a document, as a path of object keys / list indexes.
fn paths(v: &Value, at: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                at.push(Value::String(k.clone()));
                paths(x, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                at.push(Value::from(i));
                paths(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn node<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |cur, step| match step {
        Value::String(k) => &mut cur[k.as_str()],
        _ => &mut cur[step.as_u64().unwrap() as usize],
    })
}

const ODD_STRINGS: &[&str] = &[
    "",
    "-1",
    "all",
    "0.0.0.0/33",
    "::/129",
    "10.0.0.0/8",
    "65535-0",
    "0-99999",
    "1-",
    "999999999999999999999999",
    "EGRESS",
    "projects//global/networks/",
    "/",
    "tcp",
    "goto_next",
    "IPV6_ONLY",
    "zones/",
    "é",
];

/// One random small change: delete a key, change a value's type, truncate a list, odd strings.
fn mutate(doc: &mut Value, rng: &mut Rng) {
    let mut all = Vec::new();
    paths(doc, &mut Vec::new(), &mut all);
    let path = all[rng.below(all.len())].clone();
    let choice = rng.below(10);
    if choice == 0 {
        if let Some((Value::String(key), parent)) = path.split_last() {
            if let Some(m) = node(doc, parent).as_object_mut() {
                m.remove(key);
                return;
            }
        }
    }
    let target = node(doc, &path);
    *target = match (choice, target.take()) {
        (1, _) => Value::Null,
        (2, Value::String(s)) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::from(-7), Value::Number),
        (2, Value::Number(n)) => Value::String(n.to_string()),
        (3, Value::Array(mut a)) => {
            let keep = rng.below(a.len() + 1);
            a.truncate(keep);
            Value::Array(a)
        }
        (3, Value::Object(_)) => Value::Array(vec![]),
        (4, _) => Value::String(ODD_STRINGS[rng.below(ODD_STRINGS.len())].into()),
        (5, _) => Value::from(rng.next() as i64),
        (6, old) => Value::Array(vec![old]),
        (7, _) => Value::Bool(rng.below(2) == 0),
        (8, Value::Array(mut a)) if !a.is_empty() => {
            let x = a[rng.below(a.len())].clone();
            a.push(x);
            Value::Array(a)
        }
        (_, Value::Object(_)) => serde_json::json!({}),
        (_, old) => serde_json::json!({ "was": old }),
    };
}

fn load_all(docs: &[(String, Value)]) {
    let mut loader = Loader::default();
    for (name, v) in docs {
        let ctx = DocContext {
            source: name.clone(),
            ..Default::default()
        };
        // Ok or a clear error: both are fine; only a panic is a failure.
        let _ = loader.add_value(v.clone(), &ctx);
    }
    let inv = loader.build(&Options::default());
    for t in &inv.targets {
        eval_target(t);
    }
}

#[test]
fn damaged_gcp_inputs_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs: Vec<PathBuf> = vec![
        root.join("tests/fixtures/gcp/gcloud"),
        root.join("tests/fixtures/gcp/rest"),
        root.join("tests/fixtures/gcp-compute"),
    ];
    for e in std::fs::read_dir(root.join("examples/gcp")).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            dirs.push(p);
        }
    }
    let mut rounds = 0usize;
    for dir in dirs {
        let mut docs: Vec<(String, Value)> = Vec::new();
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                docs.push((p.display().to_string(), v));
            }
        }
        docs.sort_by(|a, b| a.0.cmp(&b.0));
        assert!(!docs.is_empty(), "{}", dir.display());
        for (i, (name, _)) in docs.clone().iter().enumerate() {
            for round in 0..50u64 {
                let seed = 0x9E37_79B9_7F4A_7C15 ^ ((i as u64) << 32) ^ round ^ name.len() as u64;
                let mut rng = Rng(seed | 1);
                let mut damaged = docs.clone();
                for _ in 0..1 + rng.below(3) {
                    mutate(&mut damaged[i].1, &mut rng);
                }
                let result = std::panic::catch_unwind(|| load_all(&damaged));
                assert!(
                    result.is_ok(),
                    "panicked on {name} damaged with seed {seed:#x}:\n{}",
                    serde_json::to_string(&damaged[i].1).unwrap()
                );
                rounds += 1;
            }
        }
    }
    assert!(rounds > 1000, "only {rounds} damaged inputs were tried");
}

#[test]
fn the_same_resources_read_twice_count_once() {
    // A gcloud export and a REST replay of the same project, given together.
    let (_, findings) = scan(
        &[fixture("gcloud"), fixture("rest")],
        &[
            "EG001", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009", "EG013",
        ],
    );
    assert_eq!(lines(&findings), EXPECTED);
}

// ---- fail closed (issue 12 §1) -------------------------------------------------------------------

use crate::fail_closed;

const NET: &str = "https://www.googleapis.com/compute/v1/projects/my-proj/global/networks/net1";

fn vm(interfaces: Option<Value>) -> Value {
    let mut v = serde_json::json!({"kind": "compute#instance", "id": "77", "name": "vm-1",
        "zone": "https://www.googleapis.com/compute/v1/projects/my-proj/zones/us-central1-a",
        "selfLink": "https://www.googleapis.com/compute/v1/projects/my-proj/zones/us-central1-a/instances/vm-1",
        "status": "RUNNING"});
    if let Some(i) = interfaces {
        v["networkInterfaces"] = i;
    }
    v
}

fn allow_all(priority: Value) -> Value {
    serde_json::json!({"kind": "compute#firewall", "name": "allow-all", "network": NET,
        "direction": "EGRESS", "priority": priority, "allowed": [{"IPProtocol": "all"}],
        "destinationRanges": ["0.0.0.0/0"]})
}

fn refused(docs: Vec<Value>) -> String {
    inputs::load(docs)
        .map(|inv| format!("loaded: {} targets, {:?}", inv.targets.len(), inv.warnings))
        .expect_err("the damaged input must be refused")
        .to_string()
}

#[test]
fn an_instance_without_network_interfaces_is_refused_not_dropped() {
    let nic = serde_json::json!([{"name": "nic0", "network": NET, "networkIP": "10.128.0.2"}]);
    // The same instance with its interface gives a target (and findings).
    let inv = inputs::load(vec![Value::Array(vec![vm(Some(nic.clone()))])]).unwrap();
    assert_eq!(inv.targets.len(), 1);
    for (case, doc) in [
        ("missing", vm(None)),
        ("null", vm(Some(Value::Null))),
        ("empty", vm(Some(serde_json::json!([])))),
    ] {
        let e = refused(vec![Value::Array(vec![doc])]);
        assert!(
            e.starts_with("doc-0.json: ")
                && e.contains("vm-1")
                && e.contains("`networkInterfaces`"),
            "{case}: {e}"
        );
    }
    let mut recased = vm(None);
    recased["NetworkInterfaces"] = nic;
    let e = refused(vec![Value::Array(vec![recased])]);
    assert!(
        e.contains("`NetworkInterfaces`") && e.contains("case-sensitive"),
        "{e}"
    );
}

#[test]
fn firewall_priorities_outside_0_to_65535_are_refused() {
    for p in [
        serde_json::json!(-1),
        serde_json::json!("-5"),
        serde_json::json!(65536),
    ] {
        let e = refused(vec![Value::Array(vec![allow_all(p.clone())])]);
        assert!(
            e.contains("allow-all") && e.contains("`priority`") && e.contains("0–65535"),
            "{p}: {e}"
        );
    }
    // The bounds themselves are valid.
    for p in [0, 65535] {
        inputs::load(vec![Value::Array(vec![allow_all(serde_json::json!(p))])]).unwrap();
    }
}

#[test]
fn items_as_an_object_on_a_plain_list_is_refused() {
    let doc = serde_json::json!({"kind": "compute#firewallList", "items": {}});
    let e = refused(vec![doc]);
    assert!(
        e.contains("`items` must be a list in a compute#firewallList"),
        "{e}"
    );
    // An aggregated list's scopes are still read.
    let agg = serde_json::json!({"kind": "compute#instanceAggregatedList", "items": {
        "zones/us-central1-a": {"instances": [vm(Some(serde_json::json!(
            [{"name": "nic0", "network": NET, "networkIP": "10.128.0.2"}])))]}}});
    assert_eq!(inputs::load(vec![agg]).unwrap().targets.len(), 1);
}

#[test]
fn ipv4_mapped_ipv6_destinations_are_refused() {
    let mut fw = allow_all(serde_json::json!(1000));
    fw["destinationRanges"] = serde_json::json!(["::ffff:0.0.0.0/96"]);
    let e = refused(vec![Value::Array(vec![fw])]);
    assert!(
        e.contains("destinationRanges[0]") && e.contains("IPv4-mapped"),
        "{e}"
    );
}

#[test]
fn damaged_egress_fields_fail_closed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = [
        root.join("tests/fixtures/gcp"),
        root.join("tests/fixtures/gcp-compute"),
        root.join("examples/gcp"),
    ];
    let scenarios = fail_closed::scenarios(&dirs);
    let tally = fail_closed::sweep(
        fail_closed::Provider::Gcp,
        &scenarios,
        rounds(),
        0x006C_90FA_11C1_05ED,
    );
    eprintln!("GCP fail-closed sweep: {tally}");
    assert!(
        tally.defects.is_empty(),
        "{tally}:\n{}",
        tally.defects.join("\n")
    );
    assert!(tally.tried > 300 && tally.refused > 50, "{tally}");
}

/// Rounds per scenario (`FAIL_CLOSED_ROUNDS` for a longer sweep).
fn rounds() -> usize {
    std::env::var("FAIL_CLOSED_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}
