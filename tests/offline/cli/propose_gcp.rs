//! `propose` for a GCP network through the binary: each allow names the target tags (else the
//! target service accounts) of the instances whose flows it carries, or says why it applies to the
//! whole network; the engine verifies the proposal with the rules bound as GCP binds them. The
//! exports are examples/gcp/tags-and-shadowing (web-1 tagged `web`, `http-server`; db-1 and
//! batch-1 untagged, batch-1 with its own service account); the flow logs are generated.

use super::run;
use egress_audit_flows::generate::{self, LogStatus, Record};
use egress_audit_flows::Disposition;
use serde_json::Value;
use std::path::Path;

const T0: i64 = 1_795_000_000;
const BATCH_SA: &str = "batch-runner@my-proj-123.iam.gserviceaccount.com";
const CONFIG: &str = r#"
[[authorized]]
traffic = "tcp/443 to 52.95.110.0/24"
targets = { tags = ["web"] }

[[authorized]]
traffic = "tcp/443 to 35.199.64.0/24"
targets = { resource_ids = ["*/batch-1"] }
"#;

fn flow(vm: &str, dst: &str, proto: u8, port: u16, n: i64) -> Record {
    Record {
        account: "my-proj-123".into(),
        interface_id: format!("{vm}/nic0"),
        instance_id: Some(vm.into()),
        src: "10.10.0.12".parse().unwrap(),
        dst: dst.parse().unwrap(),
        src_port: 40000,
        dst_port: port,
        protocol: proto,
        packets: 10,
        bytes: 4000,
        start: T0 + n * 600,
        end: T0 + n * 600 + 30,
        action: Disposition::Accepted,
        egress: true,
        status: LogStatus::Ok,
        pkt_dst: None,
        rule: None,
    }
}

/// The example's exports (with `edit` applied to the instance listing) and generated VPC flow logs.
fn setup(edit: impl Fn(&mut Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gcp/tags-and-shadowing");
    std::fs::create_dir(dir.path().join("exports")).unwrap();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let mut doc: Value =
            serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap();
        if e.file_name() == "instances.json" {
            edit(&mut doc);
        }
        std::fs::write(
            dir.path().join("exports").join(e.file_name()),
            serde_json::to_string_pretty(&doc).unwrap(),
        )
        .unwrap();
    }
    let recs = vec![
        flow("web-1", "52.95.110.1", 6, 443, 1),
        flow("web-1", "52.95.110.7", 6, 443, 2),
        flow("web-1", "52.1.2.3", 6, 445, 3),
        flow("batch-1", "35.199.64.200", 6, 443, 4),
        flow("batch-1", "35.199.64.201", 6, 443, 5),
        // Allowed today (prod-allow-partner-https, every instance) but authorized for batch-1
        // only: db-1's is ambiguous, and batch-1's /24 for the whole network would let it out.
        flow("db-1", "35.199.64.9", 6, 443, 6),
    ];
    std::fs::create_dir(dir.path().join("flows")).unwrap();
    std::fs::write(
        dir.path().join("flows/vpc_flows.json"),
        generate::gcp_vpc(&recs, true),
    )
    .unwrap();
    std::fs::write(dir.path().join("egress-audit.toml"), CONFIG).unwrap();
    dir
}

fn propose(dir: &Path, format: &str) -> String {
    let out = run(
        &[
            "propose",
            "--input",
            "exports",
            "--flows",
            "flows",
            "--config",
            "egress-audit.toml",
            "--format",
            format,
        ],
        dir,
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The proposal's allow rules as (destinations, target_tags, target_service_accounts, needed_by,
/// network_wide).
fn allows(p: &Value) -> Vec<(Value, Value, Value, Value, Value)> {
    p["planned"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["purpose"] == "allow")
        .map(|r| {
            let s = &r["scope"];
            (
                r["destinations"].clone(),
                s["target_tags"].clone(),
                s["target_service_accounts"].clone(),
                s["needed_by"].clone(),
                s["network_wide"].clone(),
            )
        })
        .collect()
}

fn the_proposal(json: &str) -> Value {
    let props: Vec<Value> = serde_json::from_str(json).unwrap();
    assert_eq!(props.len(), 1, "{json}");
    let p = props[0].clone();
    assert_eq!(p["kind"], "vpc-network");
    assert_eq!(p["resource"], "prod-vpc");
    assert_eq!(p["verified"], true, "{:?}", p["problems"]);
    p
}

#[test]
fn gcp_allows_name_the_tags_or_service_accounts_of_the_instances_that_need_them() {
    let dir = setup(|_| {});
    let p = the_proposal(&propose(dir.path(), "json"));
    let web = "my-proj-123/us-central1-a/web-1";
    let batch = "my-proj-123/us-central1-b/batch-1";
    let db = "my-proj-123/europe-west1-b/db-1";
    assert_eq!(
        allows(&p),
        vec![
            // web-1's two addresses share a /24; both tags of web-1 select only it.
            (
                serde_json::json!(["52.95.110.0/24"]),
                serde_json::json!(["http-server"]),
                Value::Null,
                serde_json::json!([web]),
                Value::Null
            ),
            // batch-1 (two addresses in a /24 too) has no tag: its own service account, which no other instance runs as.
            (
                serde_json::json!(["35.199.64.0/24"]),
                Value::Null,
                serde_json::json!([BATCH_SA]),
                serde_json::json!([batch]),
                Value::Null
            ),
        ]
    );
    // A kept private part binds the instances its replaced rule bound: web-1's allow-all keeps
    // one rule for all protocols (not a rule per protocol).
    let keeps: Vec<&str> = p["planned"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["purpose"] == "keep")
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(keeps.len(), 4, "{keeps:?}");
    assert!(p["rendered"]["cli"]
        .as_str()
        .unwrap()
        .contains("--rules=all --destination-ranges=0.0.0.0/8,10.0.0.0/8,"));
    // The deny of the rest of public egress is the network's, and says so.
    for d in p["planned"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["purpose"] == "deny")
    {
        assert!(d["scope"]["network_wide"]
            .as_str()
            .unwrap()
            .contains("default deny"));
    }
    // Bound to web-1 only, the /24 does not let db-1's ambiguous flow out: it is blocked.
    let blocked: Vec<(&str, &str)> = p["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["target_id"].as_str().unwrap(),
                c["traffic"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        blocked,
        vec![
            (db, "tcp/443 to 35.199.64.9/32"),
            (web, "tcp/445 to 52.1.2.3/32"),
        ]
    );
    let cli = p["rendered"]["cli"].as_str().unwrap();
    assert!(
        cli.contains(
            "gcloud compute firewall-rules create ea-prod-vpc-allow-1 --project=my-proj-123 \
         --network=prod-vpc --direction=EGRESS --action=ALLOW --rules=tcp:443 \
         --destination-ranges=52.95.110.0/24 --priority=1000 --target-tags=http-server\n"
        ),
        "{cli}"
    );
    assert!(
        cli.contains(&format!(
        "--destination-ranges=35.199.64.0/24 --priority=1000 --target-service-accounts={BATCH_SA}\n"
    )),
        "{cli}"
    );
    assert!(
        cli.contains(&format!(
            "# ea-prod-vpc-allow-1: applies to instances tagged http-server (needed by {web})\n"
        )),
        "{cli}"
    );
    let tf = propose(dir.path(), "terraform");
    assert!(
        tf.contains("  target_tags        = [\"http-server\"]\n  allow {\n    protocol = \"tcp\""),
        "{tf}"
    );
    assert!(
        tf.contains(&format!("  target_service_accounts = [\"{BATCH_SA}\"]\n")),
        "{tf}"
    );
}

#[test]
fn an_instance_without_tags_or_service_account_gets_a_network_wide_rule_that_says_why() {
    // batch-1 listed without its service account: nothing narrower than the network names it.
    let dir = setup(|doc| {
        for zone in doc["items"].as_object_mut().unwrap().values_mut() {
            for i in zone["instances"].as_array_mut().into_iter().flatten() {
                if i["name"] == "batch-1" {
                    i.as_object_mut().unwrap().remove("serviceAccounts");
                }
            }
        }
    });
    let p = the_proposal(&propose(dir.path(), "json"));
    let batch = "my-proj-123/us-central1-b/batch-1";
    let rules = allows(&p);
    let wide = rules
        .iter()
        .find(|r| r.0 == serde_json::json!(["35.199.64.0/24"]))
        .unwrap();
    assert_eq!(wide.1, Value::Null);
    assert_eq!(wide.2, Value::Null);
    assert_eq!(
        wide.4,
        format!("{batch} has no network tag and no service account in the input, so no narrower target can name it")
    );
    let cli = p["rendered"]["cli"].as_str().unwrap();
    let line = cli
        .lines()
        .find(|l| l.contains("--destination-ranges=35.199.64.0/24"))
        .unwrap();
    assert!(!line.contains("--target-"), "{line}");
    assert!(
        cli.contains("applies to every instance on the network: "),
        "{cli}"
    );
    // For the whole network, batch-1's /24 lets db-1's flow out too: only web-1's SMB is blocked.
    let blocked: Vec<&str> = p["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["traffic"].as_str().unwrap())
        .collect();
    assert_eq!(blocked, vec!["tcp/445 to 52.1.2.3/32"]);
    // The web rule keeps its tag.
    assert!(rules
        .iter()
        .any(|r| r.1 == serde_json::json!(["http-server"])));
}
