//! Live GCP collection against a local replay of the Compute REST API.
//!
//! No emulator exists for Compute networking, so a small HTTP server in this test answers the
//! documented REST responses (tests/fixtures/gcp-compute/): `items` with `nextPageToken` across
//! several pages, aggregated lists keyed by zone and region, one 429, one 500, and a project whose
//! Compute API is disabled (403 SERVICE_DISABLED). The real binary talks to it through the
//! official client library with `--compute-endpoint` and a static access token.
#![cfg(feature = "gcp")]

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "test-token-1234";
const P1: &str = "/compute/v1/projects/p1";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gcp-compute")
}

fn fixture(name: &str) -> Value {
    let path = fixture_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One request the replay server saw.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    page_token: Option<String>,
    authorization: Option<String>,
    status: u16,
}

/// The replay server: routes by path and `pageToken`, fails the first networks.list with 429
/// and the first read of the second instances page with 500.
struct Replay {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

#[derive(Default)]
struct Faults {
    throttled_networks: AtomicBool,
    failed_instances_page: AtomicBool,
}

impl Replay {
    fn start() -> Replay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let faults = Arc::new(Faults::default());
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, faults) = (log.clone(), faults.clone());
                std::thread::spawn(move || serve(stream, &log, &faults));
            }
        });
        Replay { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Seen>>, faults: &Faults) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut first = String::new();
    if reader.read_line(&mut first).unwrap_or(0) == 0 {
        return;
    }
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    let target = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.replace("%2F", "/").replace("%2f", "/"))
            .filter(|v| !v.is_empty())
    };
    let page_token = param("pageToken");
    let (status, body, retry_after) = match path {
        "/v3/projects" | "/v3/folders" => resource_manager(path, param("parent").as_deref()),
        _ => route(path, page_token.as_deref(), faults),
    };
    log.lock().unwrap().push(Seen {
        path: path.to_string(),
        page_token,
        authorization,
        status,
    });
    let body = body.to_string();
    let reason = match status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let extra = if retry_after {
        "Retry-After: 0\r\n"
    } else {
        ""
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=UTF-8\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = stream;
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

fn route(path: &str, token: Option<&str>, faults: &Faults) -> (u16, Value, bool) {
    if path.starts_with("/compute/v1/projects/p2/") {
        return (403, fixture("p2-service-disabled.json"), false);
    }
    if let Some(rest) = path.strip_prefix("/compute/v1/projects/p3") {
        return project_without_effective_firewalls(rest);
    }
    if let Some(rest) = path.strip_prefix("/compute/v1/projects/p4") {
        return project_without_instances(rest);
    }
    let Some(rest) = path.strip_prefix(P1) else {
        return (404, not_found(path), false);
    };
    let ok = |name: &str| (200, fixture(name), false);
    match (rest, token) {
        ("/global/firewalls", None) => ok("p1-firewalls-page1.json"),
        ("/global/firewalls", Some("fw-page-2")) => ok("p1-firewalls-page2.json"),
        ("/global/firewalls", Some("fw-page-3")) => ok("p1-firewalls-page3.json"),
        ("/global/networks", None) => {
            if !faults.throttled_networks.swap(true, Ordering::SeqCst) {
                return (429, fixture("rate-limited.json"), true);
            }
            ok("p1-networks.json")
        }
        ("/aggregated/firewallPolicies", None) => ok("p1-firewall-policies-page1.json"),
        ("/aggregated/firewallPolicies", Some("fp-page-2")) => {
            ok("p1-firewall-policies-page2.json")
        }
        ("/global/networks/vpc-a/getEffectiveFirewalls", None) => {
            ok("p1-vpc-a-effective-firewalls.json")
        }
        ("/aggregated/instances", None) => ok("p1-instances-page1.json"),
        ("/aggregated/instances", Some("inst-page-2")) => {
            if !faults.failed_instances_page.swap(true, Ordering::SeqCst) {
                return (500, fixture("internal-error.json"), false);
            }
            ok("p1-instances-page2.json")
        }
        ("/global/routes", None) => ok("p1-routes.json"),
        _ => (404, not_found(path), false),
    }
}

/// p3 reads, but its caller may not see effective firewalls; its lists are empty pages (no `items`).
fn project_without_effective_firewalls(rest: &str) -> (u16, Value, bool) {
    let base = "https://www.googleapis.com/compute/v1/projects/p3";
    match rest {
        "/global/firewalls" => (
            200,
            json!({"kind": "compute#firewallList", "id": "projects/p3/global/firewalls", "selfLink": format!("{base}/global/firewalls")}),
            false,
        ),
        "/global/networks" => (
            200,
            json!({"kind": "compute#networkList", "items": [{"kind": "compute#network", "id": "6003", "name": "net-3", "selfLink": format!("{base}/global/networks/net-3"), "autoCreateSubnetworks": true}]}),
            false,
        ),
        "/global/networks/net-3/getEffectiveFirewalls" => (
            403,
            json!({"error": {"code": 403,
            "message": "Required 'compute.networks.getEffectiveFirewalls' permission for 'projects/p3/global/networks/net-3'",
            "errors": [{"message": "Required 'compute.networks.getEffectiveFirewalls' permission", "domain": "global", "reason": "forbidden"}]}}),
            false,
        ),
        "/aggregated/firewallPolicies" => (
            200,
            json!({"kind": "compute#networkFirewallPolicyAggregatedList", "items": {"global": {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "none"}}}}),
            false,
        ),
        "/aggregated/instances" => (
            200,
            json!({"kind": "compute#instanceAggregatedList", "items": {
                "zones/us-central1-a": {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "none"}},
                "zones/us-east1-b": {"warning": {"code": "UNREACHABLE", "message": "The zone 'projects/p3/zones/us-east1-b' is unavailable"}}}}),
            false,
        ),
        "/global/routes" => (200, json!({"kind": "compute#routeList"}), false),
        _ => (404, not_found(rest), false),
    }
}

/// p4 has firewall rules (an untagged deny tcp:445 and a tagged allow-all) but, at scan time, no
/// instance: its network is judged on its own, once untagged and once for the tag.
fn project_without_instances(rest: &str) -> (u16, Value, bool) {
    let base = "https://www.googleapis.com/compute/v1/projects/p4";
    let net = format!("{base}/global/networks/net-4");
    let empty_scope = json!({"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "none"}});
    match rest {
        "/global/firewalls" => (
            200,
            json!({"kind": "compute#firewallList", "items": [
                {"kind": "compute#firewall", "id": "7001", "name": "deny-smb", "network": net,
                 "direction": "EGRESS", "priority": 100, "denied": [{"IPProtocol": "tcp", "ports": ["445"]}],
                 "destinationRanges": ["0.0.0.0/0"], "selfLink": format!("{base}/global/firewalls/deny-smb")},
                {"kind": "compute#firewall", "id": "7002", "name": "web-any", "network": net,
                 "direction": "EGRESS", "priority": 1000, "allowed": [{"IPProtocol": "all"}],
                 "destinationRanges": ["0.0.0.0/0"], "targetTags": ["web"],
                 "selfLink": format!("{base}/global/firewalls/web-any")}]}),
            false,
        ),
        "/global/networks" => (
            200,
            json!({"kind": "compute#networkList", "items": [{"kind": "compute#network", "id": "6004",
                   "name": "net-4", "selfLink": net, "autoCreateSubnetworks": true}]}),
            false,
        ),
        "/global/networks/net-4/getEffectiveFirewalls" => {
            (200, json!({"firewallPolicys": []}), false)
        }
        "/aggregated/firewallPolicies" => (
            200,
            json!({"kind": "compute#networkFirewallPolicyAggregatedList", "items": {"global": empty_scope}}),
            false,
        ),
        "/aggregated/instances" => (
            200,
            json!({"kind": "compute#instanceAggregatedList", "items": {"zones/us-central1-a": empty_scope}}),
            false,
        ),
        "/global/routes" => (200, json!({"kind": "compute#routeList"}), false),
        _ => (404, not_found(rest), false),
    }
}

/// Resource Manager v3: organization 123456789 holds p1 and folder 456, which holds p2 (and p3,
/// being deleted).
fn resource_manager(path: &str, parent: Option<&str>) -> (u16, Value, bool) {
    let ok = |name: &str| (200, fixture(name), false);
    match (path, parent) {
        ("/v3/projects", Some("organizations/123456789")) => ok("rm-org-projects.json"),
        ("/v3/folders", Some("organizations/123456789")) => ok("rm-org-folders.json"),
        ("/v3/projects", Some("folders/456")) => ok("rm-folder-projects.json"),
        ("/v3/folders", Some("folders/456")) => ok("rm-empty.json"),
        _ => (404, not_found(path), false),
    }
}

fn not_found(path: &str) -> Value {
    json!({"error": {"code": 404, "message": format!("The resource '{path}' was not found"),
                     "errors": [{"reason": "notFound", "domain": "global"}], "status": "NOT_FOUND"}})
}

fn egress_audit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args(args)
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN)
        .env_remove("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE")
        .env_remove("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER")
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .output()
        .expect("run egress-audit")
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn collect(server: &Replay, out: &Path) -> Value {
    let run = egress_audit(&[
        "collect",
        "gcp",
        "--project",
        "p1",
        "--project",
        "p2",
        "--compute-endpoint",
        &server.url(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(3),
        "a partial collection exits 3: {}",
        describe(&run)
    );
    let text = std::fs::read_to_string(out).expect("snapshot written");
    serde_json::from_str(&text).expect("snapshot is JSON")
}

fn items_of(pages: &[&str]) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|p| fixture(p)["items"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[test]
fn collect_reads_every_page_retries_and_records_the_disabled_project() {
    let server = Replay::start();
    let dir = tempfile::tempdir().unwrap();
    let snap = collect(&server, &dir.path().join("snap.json"));
    let seen = server.seen();

    assert_eq!(snap["format"], "egress-audit-snapshot/1");
    let docs = snap["documents"].as_array().expect("documents");
    let kinds: Vec<(&str, &str)> = docs
        .iter()
        .map(|d| (d["account"].as_str().unwrap(), d["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("p1", "firewalls"),
            ("p1", "networks"),
            ("p1", "networkFirewallPolicies.aggregatedList"),
            ("p1", "networks.getEffectiveFirewalls"),
            ("p1", "instances.aggregatedList"),
            ("p1", "routes"),
        ]
    );
    assert!(docs.iter().all(|d| d["provider"] == "gcp"));

    // Every page, in order, and each resource exactly as the REST API sent it (ids as strings,
    // `IPProtocol`, unknown fields kept).
    let firewalls = &docs[0]["data"];
    assert_eq!(firewalls["kind"], "compute#firewallList");
    assert_eq!(
        firewalls["items"].as_array().unwrap(),
        &items_of(&[
            "p1-firewalls-page1.json",
            "p1-firewalls-page2.json",
            "p1-firewalls-page3.json"
        ])
    );
    assert_eq!(firewalls["items"][0]["id"], "5001000000000000001");
    assert_eq!(firewalls["items"][0]["allowed"][0]["IPProtocol"], "tcp");
    assert_eq!(
        docs[1]["data"],
        json!({"kind": "compute#networkList", "items": items_of(&["p1-networks.json"])})
    );

    // Aggregated lists: merged across pages by scope; scopes with only a warning dropped.
    let policies = &docs[2]["data"];
    assert_eq!(
        policies["kind"],
        "compute#networkFirewallPolicyAggregatedList"
    );
    assert_eq!(
        policies["items"],
        json!({
            "global": fixture("p1-firewall-policies-page1.json")["items"]["global"],
            "regions/us-east4": fixture("p1-firewall-policies-page2.json")["items"]["regions/us-east4"],
        })
    );
    assert_eq!(
        policies["items"]["global"]["firewallPolicies"][0]["rules"][0]["match"]["layer4Configs"][0]
            ["ipProtocol"],
        "all"
    );
    let instances = &docs[4]["data"];
    assert_eq!(instances["kind"], "compute#instanceAggregatedList");
    assert_eq!(
        instances["items"],
        json!({
            "zones/us-central1-a": fixture("p1-instances-page1.json")["items"]["zones/us-central1-a"],
            "zones/europe-west1-b": fixture("p1-instances-page2.json")["items"]["zones/europe-west1-b"],
        })
    );
    assert_eq!(
        docs[5]["data"],
        json!({"kind": "compute#routeList", "items": items_of(&["p1-routes.json"])})
    );

    // Effective firewalls: the REST response plus the network it is for.
    let mut effective = fixture("p1-vpc-a-effective-firewalls.json");
    effective["network"] =
        json!("https://www.googleapis.com/compute/v1/projects/p1/global/networks/vpc-a");
    assert_eq!(docs[3]["data"], effective);
    assert_eq!(docs[3]["data"]["firewallPolicys"][0]["type"], "HIERARCHY");

    // p2 answered 403 SERVICE_DISABLED: not scanned, with Google's reason.
    let gaps = snap["not_scanned"].as_array().expect("not_scanned");
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["provider"], "gcp");
    assert_eq!(gaps[0]["account"], "p2");
    assert_eq!(gaps[0]["scope"], "project");
    let reason = gaps[0]["reason"].as_str().unwrap();
    assert!(reason.contains("HTTP 403"), "{reason}");
    assert!(reason.contains("SERVICE_DISABLED"), "{reason}");
    assert!(
        reason.contains("Compute Engine API has not been used in project p2"),
        "{reason}"
    );
    assert_eq!(
        seen.iter()
            .filter(|s| s.path.contains("/projects/p2/"))
            .count(),
        1,
        "a 403 is not retried"
    );

    // One 429 and one 500, each retried once; every attempt counted.
    let stats = &snap["stats"];
    assert_eq!(stats["api_calls"], json!(seen.len()), "{seen:#?}");
    assert_eq!(seen.len(), 13, "{seen:#?}");
    assert_eq!(stats["retries"], 2);
    assert_eq!(stats["throttles"], 1);
    let statuses: BTreeMap<u16, usize> = seen.iter().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(s.status).or_default() += 1;
        m
    });
    assert_eq!(
        statuses,
        BTreeMap::from([(200, 10), (403, 1), (429, 1), (500, 1)])
    );

    // Pagination followed the tokens, and every request carried the access token.
    let tokens = |suffix: &str| -> Vec<Option<String>> {
        seen.iter()
            .filter(|s| s.path == format!("{P1}{suffix}") && s.status == 200)
            .map(|s| s.page_token.clone())
            .collect()
    };
    assert_eq!(
        tokens("/global/firewalls"),
        [None, Some("fw-page-2".into()), Some("fw-page-3".into())]
    );
    assert_eq!(
        tokens("/aggregated/instances"),
        [None, Some("inst-page-2".into())]
    );
    assert_eq!(
        tokens("/aggregated/firewallPolicies"),
        [None, Some("fp-page-2".into())]
    );
    let bearer = format!("Bearer {TOKEN}");
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some(bearer.as_str())),
        "{seen:#?}"
    );
}

#[test]
fn an_endpoint_override_with_the_gcloud_version_path_works() {
    let server = Replay::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");
    let run = Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args(["collect", "gcp", "--project", "p1", "--quiet", "--out"])
        .arg(&out)
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN)
        .env(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE",
            format!("{}/compute/v1/", server.url()),
        )
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    let snap: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(snap["documents"].as_array().unwrap().len(), 6);
    assert_eq!(snap["not_scanned"], json!([]));
    assert!(
        run.stderr.is_empty(),
        "--quiet prints nothing: {}",
        describe(&run)
    );
}

#[test]
fn no_project_is_a_usage_error() {
    let run = egress_audit(&["collect", "gcp", "--out", "/nonexistent/snap.json"]);
    assert_eq!(run.status.code(), Some(2), "{}", describe(&run));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("--project"),
        "{}",
        describe(&run)
    );
}

/// The instance a finding is about, by name or numeric id.
fn instance_of(f: &Value) -> &'static str {
    let text = format!("{} {}", f["resource_id"], f["resource_name"]);
    if text.contains("web-1") || text.contains("8001000000000000001") {
        "web-1"
    } else if text.contains("db-1") || text.contains("8001000000000000002") {
        "db-1"
    } else {
        "other"
    }
}

fn assert_expected_findings(report: &Value) {
    let findings = report["findings"].as_array().expect("findings");
    let got: BTreeSet<(&str, String)> = findings
        .iter()
        .map(|f| (instance_of(f), f["check_id"].as_str().unwrap().to_string()))
        .collect();
    // The org policy's deny tcp/445 wins over the VPC allow (no EG002); its goto_next for tcp/20-23
    // hands those ports to the VPC rules, which allow telnet (EG003) everywhere, ftp only to
    // tag `web` (EG004), and deny ssh (no EG013). The disabled allow-all and the unassociated
    // network policies change nothing.
    let want: BTreeSet<(&str, String)> = [
        ("web-1", "EG003"),
        ("web-1", "EG004"),
        ("web-1", "EG009"),
        ("db-1", "EG003"),
        ("db-1", "EG009"),
    ]
    .into_iter()
    .map(|(i, c)| (i, c.to_string()))
    .collect();
    assert_eq!(got, want, "{findings:#?}");
    assert_eq!(findings.len(), want.len(), "{findings:#?}");
    for f in findings {
        assert_eq!(f["provider"], "gcp");
        assert_eq!(f["account"], "p1");
        let evidence = f["evidence"].as_array().unwrap();
        match f["check_id"].as_str().unwrap() {
            "EG003" => {
                assert_eq!(evidence.len(), 1, "{f:#}");
                assert!(
                    evidence[0]["rule"]
                        .as_str()
                        .unwrap()
                        .contains("allow-telnet-smb"),
                    "{f:#}"
                );
                assert_eq!(evidence[0]["action"], "allow");
                assert_eq!(evidence[0]["priority"], 1000);
            }
            "EG004" => {
                assert_eq!(evidence.len(), 1, "{f:#}");
                assert!(
                    evidence[0]["rule"]
                        .as_str()
                        .unwrap()
                        .contains("allow-ftp-web"),
                    "{f:#}"
                );
                assert_eq!(evidence[0]["priority"], 900);
            }
            _ => {}
        }
    }
}

#[test]
fn scan_gcp_finds_what_the_policies_allow_and_matches_the_snapshot() {
    let server = Replay::start();
    let dir = tempfile::tempdir().unwrap();
    let live_report = dir.path().join("live.json");
    let run = egress_audit(&[
        "scan",
        "gcp",
        "--project",
        "p1",
        "--project",
        "p2",
        "--compute-endpoint",
        &server.url(),
        "--format",
        "json",
        "--output",
        live_report.to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(3),
        "a partial scan exits 3: {}",
        describe(&run)
    );
    let live: Value =
        serde_json::from_str(&std::fs::read_to_string(&live_report).unwrap()).unwrap();
    assert_expected_findings(&live);

    // collect then scan --input gives exactly the findings of the live scan.
    let other = Replay::start();
    let snap_path = dir.path().join("snap.json");
    collect(&other, &snap_path);
    let offline = egress_audit(&[
        "scan",
        "--input",
        snap_path.to_str().unwrap(),
        "--format",
        "json",
        "--allow-partial",
    ]);
    assert_eq!(
        offline.status.code(),
        Some(1),
        "high findings exit 1: {}",
        describe(&offline)
    );
    let offline: Value = serde_json::from_slice(&offline.stdout).unwrap();
    assert_eq!(offline["findings"], live["findings"]);
}

#[test]
fn organization_scan_reads_every_active_project_below_it() {
    let server = Replay::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");
    let run = egress_audit(&[
        "collect",
        "gcp",
        "--organization",
        "123456789",
        "--resource-manager-endpoint",
        &server.url(),
        "--compute-endpoint",
        &server.url(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(3), "{}", describe(&run));
    let snap: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let accounts: BTreeSet<&str> = snap["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, BTreeSet::from(["p1"]));
    assert_eq!(snap["not_scanned"][0]["account"], "p2");
    assert_eq!(snap["not_scanned"].as_array().unwrap().len(), 1);
    let seen = server.seen();
    assert!(
        !seen.iter().any(|s| s.path.contains("/projects/p3/")),
        "p3 is being deleted: {seen:#?}"
    );
    let rm: Vec<&str> = seen
        .iter()
        .filter(|s| s.path.starts_with("/v3/"))
        .map(|s| s.path.as_str())
        .collect();
    assert_eq!(
        rm,
        ["/v3/projects", "/v3/folders", "/v3/projects", "/v3/folders"]
    );
}

#[test]
fn a_later_listing_that_is_refused_is_noted_and_the_rest_kept() {
    let server = Replay::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");
    let run = egress_audit(&[
        "collect",
        "gcp",
        "--project",
        "p3",
        "--compute-endpoint",
        &server.url(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(3), "{}", describe(&run));
    let snap: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let docs = snap["documents"].as_array().unwrap();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "firewalls",
            "networks",
            "networkFirewallPolicies.aggregatedList",
            "instances.aggregatedList",
            "routes"
        ]
    );
    assert_eq!(
        docs[0]["data"],
        json!({"kind": "compute#firewallList", "items": []})
    );
    assert_eq!(docs[3]["data"]["items"], json!({}));
    let gaps = snap["not_scanned"].as_array().unwrap();
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    assert_eq!(
        gaps[1],
        json!({"provider": "gcp", "account": "p3", "region": "us-east1",
               "scope": "instances.aggregatedList",
               "reason": "zones/us-east1-b could not be read: UNREACHABLE: The zone 'projects/p3/zones/us-east1-b' is unavailable"})
    );
    assert_eq!(gaps[0]["account"], "p3");
    assert_eq!(gaps[0]["scope"], "networks.getEffectiveFirewalls");
    let reason = gaps[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("networks.getEffectiveFirewalls(net-3): HTTP 403"),
        "{reason}"
    );
    assert!(
        reason.contains("compute.networks.getEffectiveFirewalls"),
        "{reason}"
    );
}

#[test]
fn a_project_without_instances_has_its_networks_judged() {
    let server = Replay::start();
    let run = egress_audit(&[
        "scan",
        "gcp",
        "--project",
        "p4",
        "--compute-endpoint",
        &server.url(),
        "--format",
        "json",
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", describe(&run));
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    // The network untagged (the deny only: the implied allow decides the rest) and with `web`.
    assert_eq!(report["summary"]["targets"], 2, "{report}");
    let found: BTreeSet<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check_id"].as_str().unwrap().to_string(),
                f["resource_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let on =
        |check: &str, needle: &str| found.iter().any(|(c, r)| c == check && r.contains(needle));
    assert!(on("EG001", "web"), "{found:?}");
    assert!(on("EG001", "net-4"), "{found:?}");
}

#[test]
fn the_token_is_never_sent_over_plain_http_to_another_host() {
    // A listener on another loopback address stands for a remote host: it must see nothing.
    let Ok(listener) = TcpListener::bind("127.0.0.2:0") else {
        eprintln!("skipped: 127.0.0.2 cannot be bound here");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let run = egress_audit(&[
        "scan",
        "gcp",
        "--project",
        "p1",
        "--compute-endpoint",
        &format!("http://127.0.0.2:{port}"),
        "--format",
        "json",
    ]);
    assert_eq!(run.status.code(), Some(2), "{}", describe(&run));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("must use https"), "{err}");
    assert!(
        listener.accept().is_err(),
        "a connection reached the non-local endpoint"
    );
}
