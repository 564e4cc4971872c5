//! Azure live collection against a local replay of the ARM REST API.
//!
//! The replay server answers with the list shapes of Microsoft's published REST examples
//! (tests/fixtures/azure-arm/): `properties`, the six default NSG rules, `nextLink` paging across
//! several pages (absolute links back to the server), one 429 with `Retry-After: 1`, one 500, and
//! 403 `AuthorizationFailed` for a second subscription. The real binary talks to it through
//! `AZURE_RESOURCE_MANAGER_ENDPOINT` with the static test token.
//!
//! Run: `cargo test --features azure --test live azure_live::`
#![cfg(feature = "azure")]

mod replay;

use replay::{fixture, ok, Answer, Replay};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Output};

const SUB_A: &str = "6f1c0e4e-2a5b-4c1d-9e3f-0a1b2c3d4e5f";
const SUB_B: &str = "0b7d3a52-91c4-4e6f-8a2d-5c3b1e9f7a60";
const SUB_C: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const TOKEN: &str = "replay-test-token";
const NET: &str = "api-version=2024-05-01";

fn network(sub: &str, kind: &str) -> String {
    format!("/subscriptions/{sub}/providers/Microsoft.Network/{kind}?{NET}")
}

/// Subscription A: every list, NSGs on three pages (page 2 throttled once), NICs on two pages (the
/// first fails with 500 once). Subscription B: 403 on everything.
fn arm_routes() -> HashMap<String, Answer> {
    let mut r = HashMap::new();
    r.insert(
        "/subscriptions?api-version=2022-12-01".to_string(),
        ok("subscriptions.json"),
    );
    r.insert(
        network(SUB_A, "networkSecurityGroups"),
        ok("sub-a-nsgs-1.json"),
    );
    r.insert(
        format!(
            "{}&$skiptoken=nsg-page-2",
            network(SUB_A, "networkSecurityGroups")
        ),
        Answer {
            fail_first: vec![(429, "throttled.json", Some("1"))],
            ..ok("sub-a-nsgs-2.json")
        },
    );
    r.insert(
        format!(
            "{}&$skiptoken=nsg-page-3",
            network(SUB_A, "networkSecurityGroups")
        ),
        ok("sub-a-nsgs-3.json"),
    );
    r.insert(
        network(SUB_A, "networkInterfaces"),
        Answer {
            fail_first: vec![(500, "server-error.json", None)],
            ..ok("sub-a-nics-1.json")
        },
    );
    r.insert(
        format!(
            "{}&$skiptoken=nic-page-2",
            network(SUB_A, "networkInterfaces")
        ),
        ok("sub-a-nics-2.json"),
    );
    r.insert(network(SUB_A, "virtualNetworks"), ok("sub-a-vnets.json"));
    r.insert(network(SUB_A, "routeTables"), ok("sub-a-routetables.json"));
    r.insert(network(SUB_A, "azureFirewalls"), ok("sub-a-firewalls.json"));
    for kind in LIST_KINDS {
        r.insert(
            network(SUB_B, kind),
            Answer {
                status: 403,
                ..ok("sub-b-403.json")
            },
        );
    }
    r
}

const LIST_KINDS: [&str; 5] = [
    "networkSecurityGroups",
    "networkInterfaces",
    "virtualNetworks",
    "routeTables",
    "azureFirewalls",
];

fn run(endpoint: &str, args: &[&str], dir: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_egress-audit"));
    cmd.args(args)
        .current_dir(dir)
        .env("AZURE_RESOURCE_MANAGER_ENDPOINT", endpoint)
        .env("EGRESS_AUDIT_AZURE_TOKEN", TOKEN)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    for var in [
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_TENANT_ID",
        "AZURE_FEDERATED_TOKEN_FILE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
    ] {
        cmd.env_remove(var);
    }
    cmd.output().expect("run egress-audit")
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The items of a fixture's `value`, concatenated over pages.
fn fixture_items(files: &[&str]) -> Vec<Value> {
    files
        .iter()
        .flat_map(|f| {
            let v: Value = serde_json::from_str(&fixture(f)).unwrap();
            v["value"].as_array().unwrap().clone()
        })
        .collect()
}

fn names(items: &Value) -> Vec<String> {
    items["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect()
}

fn collect_a_and_b(dir: &Path) -> (Value, Output, Replay) {
    let server = Replay::start(arm_routes());
    let out = run(
        &server.base,
        &[
            "collect",
            "azure",
            "--subscription",
            SUB_A,
            "--subscription",
            SUB_B,
            "--out",
            "snap.json",
            "--quiet",
        ],
        dir,
    );
    let snap = read_json(&dir.join("snap.json"));
    (snap, out, server)
}

#[test]
fn collect_reads_every_page_retries_and_marks_the_forbidden_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let (snap, out, server) = collect_a_and_b(dir.path());
    assert_eq!(
        out.status.code(),
        Some(3),
        "partial collect exits 3; {}",
        describe(&out)
    );

    // Documents: subscription A's five lists in order, none from B.
    let docs = snap["documents"].as_array().unwrap();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, LIST_KINDS);
    for d in docs {
        assert_eq!(d["provider"], "azure");
        assert_eq!(d["account"], SUB_A);
        assert!(d.get("region").is_none());
    }
    // Every page is merged into one `value`, items exactly as ARM returned them.
    let doc = |kind: &str| &docs.iter().find(|d| d["kind"] == kind).unwrap()["data"];
    assert_eq!(
        names(doc("networkSecurityGroups")),
        ["web-nsg", "db-nsg", "app-nsg"]
    );
    assert_eq!(
        doc("networkSecurityGroups")["value"].as_array().unwrap(),
        &fixture_items(&[
            "sub-a-nsgs-1.json",
            "sub-a-nsgs-2.json",
            "sub-a-nsgs-3.json"
        ])
    );
    for nsg in doc("networkSecurityGroups")["value"].as_array().unwrap() {
        let defaults = nsg["properties"]["defaultSecurityRules"]
            .as_array()
            .unwrap();
        assert_eq!(defaults.len(), 6, "{} keeps its default rules", nsg["name"]);
    }
    assert_eq!(
        names(doc("networkInterfaces")),
        ["web-nic", "db-nic", "app-nic"]
    );
    assert_eq!(
        doc("networkInterfaces")["value"].as_array().unwrap(),
        &fixture_items(&["sub-a-nics-1.json", "sub-a-nics-2.json"])
    );
    assert_eq!(names(doc("virtualNetworks")), ["vnet-egress"]);
    assert_eq!(
        doc("virtualNetworks")["value"][0]["properties"]["subnets"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(names(doc("routeTables")), ["rt-to-firewall"]);
    assert_eq!(names(doc("azureFirewalls")), ["fw-egress"]);
    assert!(doc("networkSecurityGroups").get("nextLink").is_none());

    // B answered 403 on its first list: not scanned, with status, ARM code and message.
    let gaps = snap["not_scanned"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["provider"], "azure");
    assert_eq!(gaps[0]["account"], SUB_B);
    assert_eq!(gaps[0]["scope"], "subscription");
    let reason = gaps[0]["reason"].as_str().unwrap();
    assert!(reason.contains("HTTP 403"), "{reason}");
    assert!(reason.contains("AuthorizationFailed"), "{reason}");
    assert!(
        reason.contains("does not have authorization to perform action 'Microsoft.Network/networkSecurityGroups/read'"),
        "{reason}"
    );

    // 3 + 2 pages + 3 single pages for A, one retry each for the 429 and the 500, one call for B.
    let stats = &snap["stats"];
    assert_eq!(stats["api_calls"], 11, "{stats}");
    assert_eq!(stats["retries"], 2, "{stats}");
    assert_eq!(stats["throttles"], 1, "{stats}");
    assert!(
        stats["elapsed_ms"].as_u64().unwrap() >= 1000,
        "Retry-After: 1 was honoured: {stats}"
    );

    // What the server saw: the static token on every call, the API version per call, nothing
    // more from B after its 403.
    let seen = server.seen();
    assert_eq!(seen.len(), 11, "{seen:?}");
    assert!(seen
        .iter()
        .all(|s| s.authorization == format!("Bearer {TOKEN}")));
    assert!(seen.iter().all(|s| s.target.contains(NET)), "{seen:?}");
    let b_calls: Vec<_> = seen.iter().filter(|s| s.target.contains(SUB_B)).collect();
    assert_eq!(b_calls.len(), 1, "{b_calls:?}");
    assert!(!seen.iter().any(|s| s.target.starts_with("/subscriptions?")));
}

#[test]
fn collect_without_subscriptions_scans_the_enabled_ones() {
    let dir = tempfile::tempdir().unwrap();
    let server = Replay::start(arm_routes());
    let out = run(
        &server.base,
        &["collect", "azure", "--out", "snap.json", "--quiet"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let snap = read_json(&dir.path().join("snap.json"));
    let accounts: BTreeSet<&str> = snap["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, BTreeSet::from([SUB_A]));
    assert_eq!(snap["not_scanned"][0]["account"], SUB_B);
    let seen = server.seen();
    assert_eq!(seen[0].target, "/subscriptions?api-version=2022-12-01");
    // The disabled subscription is never asked for.
    assert!(!seen.iter().any(|s| s.target.contains(SUB_C)), "{seen:?}");
}

#[test]
fn next_link_to_another_host_is_not_followed_with_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut routes = arm_routes();
    // The first NSG page names a host that is not the ARM endpoint (never contacted).
    routes.insert(
        network(SUB_A, "networkSecurityGroups"),
        ok("foreign-next-link.json"),
    );
    let server = Replay::start(routes);
    let out = run(
        &server.base,
        &[
            "collect",
            "azure",
            "--subscription",
            SUB_A,
            "--out",
            "snap.json",
            "--quiet",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let snap = read_json(&dir.path().join("snap.json"));
    assert_eq!(snap["documents"].as_array().unwrap().len(), 0);
    let reason = snap["not_scanned"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("not to the ARM endpoint"), "{reason}");
    assert_eq!(server.seen().len(), 1);
}

/// A list that stays throttled past the retry budget is not scanned on its own; the
/// subscription's other lists are kept (only NSGs, NICs and VNets are essential).
#[test]
fn a_list_that_keeps_failing_is_not_scanned_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut routes = arm_routes();
    routes.insert(
        network(SUB_A, "azureFirewalls"),
        Answer {
            fail_first: vec![(429, "throttled.json", Some("0")); 5],
            ..ok("sub-a-firewalls.json")
        },
    );
    let server = Replay::start(routes);
    let out = run(
        &server.base,
        &[
            "collect",
            "azure",
            "--subscription",
            SUB_A,
            "--out",
            "snap.json",
            "--quiet",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let snap = read_json(&dir.path().join("snap.json"));
    let kinds: Vec<&str> = snap["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, &LIST_KINDS[..4]);
    let gaps = snap["not_scanned"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["account"], SUB_A);
    assert_eq!(gaps[0]["scope"], "azureFirewalls");
    let reason = gaps[0]["reason"].as_str().unwrap();
    assert!(reason.contains("HTTP 429 TooManyRequests"), "{reason}");
    assert!(reason.contains("after 5 attempts"), "{reason}");
    // 1 + 5 for the throttles, 4 retries of the firewall list and one each for the 429 and the 500.
    assert_eq!(snap["stats"]["throttles"], 6, "{}", snap["stats"]);
    assert_eq!(snap["stats"]["retries"], 6, "{}", snap["stats"]);
    assert_eq!(snap["stats"]["api_calls"], 14, "{}", snap["stats"]);
}

/// `--concurrency 1` scans one subscription at a time: the server never answers two requests at once.
#[test]
fn concurrency_bounds_the_subscriptions_scanned_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut routes = arm_routes();
    // C (disabled in the listing, but asked for by id) answers like A's empty twin.
    for kind in LIST_KINDS {
        routes.insert(network(SUB_C, kind), ok("empty-list.json"));
    }
    let server = Replay::start_with_delay(routes, std::time::Duration::from_millis(50));
    let out = run(
        &server.base,
        &[
            "collect",
            "azure",
            "--subscription",
            SUB_A,
            "--subscription",
            SUB_B,
            "--subscription",
            SUB_C,
            "--concurrency",
            "1",
            "--out",
            "snap.json",
            "--quiet",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_eq!(server.max_in_flight(), 1);
    // 10 calls for A, 1 for B, 5 for C (whose empty lists leave no documents).
    assert_eq!(server.seen().len(), 16);
    let snap = read_json(&dir.path().join("snap.json"));
    assert_eq!(snap["documents"].as_array().unwrap().len(), 5);
}

#[test]
fn plain_http_endpoints_other_than_localhost_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        "http://management.example.com",
        &[
            "collect",
            "azure",
            "--subscription",
            SUB_A,
            "--out",
            "snap.json",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must use https"));
}

#[test]
fn bad_subscription_ids_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        "http://127.0.0.1:9",
        &[
            "collect",
            "azure",
            "--subscription",
            "../../x",
            "--out",
            "snap.json",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a subscription id"));
}

/// (check id, NIC) pairs; ARM ids compare case-insensitively, as Azure defines them.
fn finding_keys(report: &Value) -> BTreeSet<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings array in {report}"))
        .iter()
        .map(|f| {
            (
                f["check_id"].as_str().unwrap().to_string(),
                f["resource_id"].as_str().unwrap().to_ascii_lowercase(),
            )
        })
        .collect()
}

fn nic(name: &str) -> String {
    format!(
        "/subscriptions/{SUB_A}/resourceGroups/rg-egress/providers/Microsoft.Network/networkInterfaces/{name}"
    )
    .to_ascii_lowercase()
}

fn expected_findings() -> BTreeSet<(String, String)> {
    let mut e = BTreeSet::new();
    // web-nic: its NSG allows only tcp/443 to Internet, then denies Internet.
    for id in ["EG008", "EG009"] {
        e.insert((id.to_string(), nic("web-nic")));
    }
    // db-nic: no NIC NSG; the subnet's NSG allows tcp/1433 to one public host and tcp/445 to Internet.
    for id in ["EG002", "EG009", "EG013"] {
        e.insert((id.to_string(), nic("db-nic")));
    }
    // app-nic: the subnet's NSG has only the default rules, so AllowInternetOutBound allows all.
    for id in [
        "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
    ] {
        e.insert((id.to_string(), nic("app-nic")));
    }
    e
}

/// Needs the offline Azure normalizer (`{"value": [...]}` → targets) to be merged.
#[test]
fn scan_azure_finds_exactly_the_expected_and_matches_collect_then_scan() {
    let dir = tempfile::tempdir().unwrap();
    let (_, collected, _) = collect_a_and_b(dir.path());
    assert_eq!(collected.status.code(), Some(3), "{}", describe(&collected));
    let offline = run(
        "http://127.0.0.1:9",
        &[
            "scan",
            "--input",
            "snap.json",
            "--format",
            "json",
            "--quiet",
        ],
        dir.path(),
    );
    let live_server = Replay::start(arm_routes());
    let live = run(
        &live_server.base,
        &[
            "scan",
            "azure",
            "--subscription",
            SUB_A,
            "--subscription",
            SUB_B,
            "--format",
            "json",
            "--quiet",
        ],
        dir.path(),
    );
    for out in [&offline, &live] {
        // Subscription B was not read: a partial scan exits 3 even with findings.
        assert_eq!(out.status.code(), Some(3), "{}", describe(out));
    }
    let offline: Value = serde_json::from_slice(&offline.stdout).unwrap();
    let live: Value = serde_json::from_slice(&live.stdout).unwrap();

    // Exactly these among the checks named there; the goldens hold the whole catalog.
    let want = expected_findings();
    let named: BTreeSet<&str> = want.iter().map(|(check, _)| check.as_str()).collect();
    let got: BTreeSet<(String, String)> = finding_keys(&live)
        .into_iter()
        .filter(|(check, _)| named.contains(check.as_str()))
        .collect();
    assert_eq!(got, want, "{live:#}");
    assert_eq!(
        offline["findings"], live["findings"],
        "collect then scan = live scan"
    );
    for f in live["findings"].as_array().unwrap() {
        assert_eq!(f["provider"], "azure");
        assert_eq!(f["account"], SUB_A);
    }
    // db-nic's subnet routes 0.0.0.0/0 to the firewall: its findings say egress passes an appliance.
    let db_notes: Vec<&Value> = live["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["resource_id"].as_str().unwrap().to_ascii_lowercase() == nic("db-nic"))
        .collect();
    assert!(!db_notes.is_empty());
    for f in db_notes {
        let notes = f["notes"].to_string();
        assert!(notes.contains("egress passes an appliance"), "{f:#}");
    }
    // The report says the scan is partial and names B.
    for report in [&offline, &live] {
        assert_eq!(report["summary"]["partial"], true);
        assert_eq!(report["not_scanned"][0]["account"], SUB_B);
    }
}

/// The example custom role grants a read action for every list the collector makes.
#[test]
fn custom_role_example_covers_every_list() {
    let role =
        read_json(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/azure-custom-role.json"));
    let actions: Vec<&str> = role["Actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for spec in egress_audit_azure::LISTS.iter() {
        let action = format!("Microsoft.Network/{}/read", spec.kind);
        assert!(actions.contains(&action.as_str()), "{action} missing");
    }
    assert!(actions.contains(&"Microsoft.Resources/subscriptions/read"));
    assert!(actions.iter().all(|a| a.ends_with("/read")), "read-only");
    assert_eq!(
        LIST_KINDS.to_vec(),
        egress_audit_azure::LISTS
            .iter()
            .map(|s| s.kind)
            .collect::<Vec<_>>()
    );
}

#[test]
fn warned_and_past_due_subscriptions_are_scanned_and_disabled_ones_listed_as_skipped() {
    // A is `Warned`, B `PastDue` (both still run resources), C `Disabled`.
    let dir = tempfile::tempdir().unwrap();
    let mut routes = arm_routes();
    routes.insert(
        "/subscriptions?api-version=2022-12-01".to_string(),
        ok("subscriptions-states.json"),
    );
    let server = Replay::start(routes);
    let out = run(
        &server.base,
        &["collect", "azure", "--out", "snap.json", "--quiet"],
        dir.path(),
    );
    // B answers 403: partial (exit 3), not "no subscription to scan" (exit 2).
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let snap = read_json(&dir.path().join("snap.json"));
    let accounts: BTreeSet<&str> = snap["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, BTreeSet::from([SUB_A]));
    assert_eq!(snap["not_scanned"][0]["account"], SUB_B);
    assert_eq!(snap["skipped"].as_array().unwrap().len(), 1, "{snap}");
    assert_eq!(snap["skipped"][0]["account"], SUB_C);
    assert!(snap["skipped"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("Disabled"));
    let seen = server.seen();
    assert!(seen.iter().any(|s| s.target.contains(SUB_B)), "{seen:?}");
    assert!(!seen.iter().any(|s| s.target.contains(SUB_C)), "{seen:?}");
    // The scan of that snapshot lists the disabled subscription in its warnings.
    let scan = run(
        &server.base,
        &[
            "scan",
            "--input",
            "snap.json",
            "--format",
            "json",
            "--allow-partial",
        ],
        dir.path(),
    );
    let report: Value = serde_json::from_slice(&scan.stdout).expect("a JSON report");
    let skipped: Vec<&Value> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == "skipped-scope")
        .collect();
    assert_eq!(skipped.len(), 1, "{}", describe(&scan));
    assert!(skipped[0]["message"].as_str().unwrap().contains(SUB_C));
}
