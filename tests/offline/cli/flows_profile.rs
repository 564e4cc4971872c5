//! `scan --flows`: the per-target egress profile in every human format and in the JSON report
//! (validated against the report schema), from generated AWS flow logs over the default-open
//! example. The expected numbers are summed from the generated records here, independently of the
//! reader and the engine.

use super::schemas::{errors, validator};
use super::{root, run};
use egress_audit_flows::generate::{self, LogStatus, Record, AWS_V5_FIELDS};
use egress_audit_flows::{is_public, Disposition};
use serde_json::Value;
use std::collections::BTreeMap;

/// The example's interfaces with their instance and private address.
const ENIS: [(&str, &str, &str); 2] = [
    ("eni-0a9c1e3f5b7d9a601", "i-0a5c7e9b1d3f5a701", "10.20.1.37"),
    (
        "eni-0b0d2f4a6c8e0b702",
        "i-0b6d8f0c2e4a6b802",
        "172.31.7.212",
    ),
];
const CONFIG: &str = "[[authorized]]\ntraffic = \"tcp/443 to 52.95.110.0/24\"\n";

/// Generated records moved onto the example's two interfaces.
fn records() -> Vec<Record> {
    let mut recs = generate::records(2026, 3000, 2, 1_795_000_000);
    for r in &mut recs {
        let nic = usize::from(r.interface_id != format!("eni-{:017x}", 0xa000));
        let (eni, inst, addr) = ENIS[nic];
        r.interface_id = eni.into();
        r.instance_id = r.instance_id.as_ref().map(|_| inst.to_string());
        let own: std::net::IpAddr = addr.parse().unwrap();
        // IPv4 side of the interface: the example's interfaces have no IPv6 address.
        if r.egress && r.src.is_ipv4() {
            r.src = own;
        } else if !r.egress && r.dst.is_ipv4() {
            r.dst = own;
        }
    }
    recs
}

type Sums = BTreeMap<(String, String), (u64, u64, u64)>;

/// (interface, `tcp/443`) → (flows, packets, bytes) of the accepted egress to public addresses.
fn expected(recs: &[Record]) -> Sums {
    let mut out = Sums::new();
    for r in recs {
        let dst = r.pkt_dst.unwrap_or(r.dst);
        if !(r.egress
            && r.action == Disposition::Accepted
            && r.status == LogStatus::Ok
            && is_public(dst))
        {
            continue;
        }
        let service = match r.protocol {
            1 => format!("icmp type {}", r.dst_port.min(255)),
            6 => format!("tcp/{}", r.dst_port),
            17 => format!("udp/{}", r.dst_port),
            p => p.to_string(),
        };
        let e = out.entry((r.interface_id.clone(), service)).or_default();
        e.0 += 1;
        e.1 += r.packets;
        e.2 += r.bytes;
    }
    out
}

fn service(c: &Value) -> String {
    let proto = c["protocol"].as_str().unwrap();
    match c["port"].as_str() {
        Some(p) if p.starts_with("type") => format!("{proto} {p}"),
        Some(p) => format!("{proto}/{p}"),
        None => proto.to_string(),
    }
}

fn scan(dir: &std::path::Path, format: &str) -> std::process::Output {
    let flows = dir.join("flows");
    let config = dir.join("egress-audit.toml");
    let input = root().join("examples/aws/default-open");
    run(
        &[
            "scan",
            "--input",
            input.to_str().unwrap(),
            "--flows",
            flows.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--fail-on",
            "none",
            "--format",
            format,
        ],
        dir,
    )
}

fn setup() -> (tempfile::TempDir, Vec<Record>) {
    let dir = tempfile::tempdir().unwrap();
    let recs = records();
    let s3 = dir
        .path()
        .join("flows/AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/18");
    std::fs::create_dir_all(&s3).unwrap();
    std::fs::write(
        s3.join("111122223333_vpcflowlogs_us-east-1_fl-0a_20261118T0000Z_1a2b3c4d.log.gz"),
        generate::gzip(generate::aws_text(&recs, AWS_V5_FIELDS, true).as_bytes()),
    )
    .unwrap();
    std::fs::write(dir.path().join("egress-audit.toml"), CONFIG).unwrap();
    (dir, recs)
}

#[test]
fn the_json_report_carries_every_class_of_every_target_and_matches_the_schema() {
    let (dir, recs) = setup();
    let out = scan(dir.path(), "json");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errs = errors(&validator("report.schema.json"), &report);
    assert!(errs.is_empty(), "{errs:#?}");
    let profile = &report["flow_profile"];
    assert_eq!(profile["window_days"], 90);
    let mut got = Sums::new();
    let mut statuses = std::collections::BTreeSet::new();
    for t in profile["targets"].as_array().unwrap() {
        let id = t["target"]["resource_id"].as_str().unwrap();
        let classes = t["classes"].as_array().unwrap();
        let count = |s: &str| classes.iter().filter(|c| c["status"] == s).count() as u64;
        for s in ["unauthorized", "ambiguous", "authorized"] {
            assert_eq!(t[s].as_u64(), Some(count(s)), "{id} {s}");
        }
        let total: u64 = classes.iter().map(|c| c["flows"].as_u64().unwrap()).sum();
        assert_eq!(t["flows"].as_u64(), Some(total), "{id}");
        // Unauthorized first, then ambiguous, then authorized.
        let ranks: Vec<u8> = classes
            .iter()
            .map(|c| match c["status"].as_str().unwrap() {
                "unauthorized" => 0,
                "ambiguous" => 1,
                _ => 2,
            })
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{id}: {ranks:?}");
        for c in classes {
            statuses.insert(c["status"].as_str().unwrap().to_string());
            let e = got.entry((id.to_string(), service(c))).or_default();
            e.0 += c["flows"].as_u64().unwrap();
            e.1 += c["packets"].as_u64().unwrap();
            e.2 += c["bytes"].as_u64().unwrap();
            match c["status"].as_str().unwrap() {
                "unauthorized" => assert!(!c["checks"].as_array().unwrap().is_empty()),
                "authorized" => {
                    assert_eq!(c["authorized_by"], "tcp/443 to 52.95.110.0/24");
                    assert_eq!(c["destinations"], serde_json::json!(["52.95.110.1/32"]));
                }
                _ => assert!(c.get("checks").is_none() && c.get("authorized_by").is_none()),
            }
            if service(c) == "tcp/445" {
                assert!(c["checks"].as_array().unwrap().iter().any(|x| x == "EG002"));
            }
        }
    }
    let want = expected(&recs);
    assert!(want.len() > 10, "{want:?}");
    assert_eq!(got, want);
    assert_eq!(statuses.len(), 3, "{statuses:?}");
}

#[test]
fn the_table_markdown_and_html_show_each_target_with_its_top_classes() {
    let (dir, _) = setup();
    let json: Value = serde_json::from_slice(&scan(dir.path(), "json").stdout).unwrap();
    let targets = json["flow_profile"]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    let table = String::from_utf8(scan(dir.path(), "table").stdout).unwrap();
    let block = &table[table.find("Observed egress (flow logs").expect(&table)..];
    for line in block.lines() {
        assert!(line.chars().count() <= 100, "over 100 columns: {line:?}");
    }
    let markdown = String::from_utf8(scan(dir.path(), "markdown").stdout).unwrap();
    let html = String::from_utf8(scan(dir.path(), "html").stdout).unwrap();
    let markdown = &markdown[markdown
        .find("\n## Observed egress (flow logs, ")
        .expect(&markdown)..];
    let html = &html[html
        .find("<h2 id=\"flows\">Observed egress (flow logs, ")
        .expect(&html)..html.find("<h2 id=\"warnings\">").unwrap()];
    let ids: Vec<&str> = targets
        .iter()
        .map(|t| t["target"]["resource_id"].as_str().unwrap())
        .collect();
    for (name, text) in [("table", block), ("markdown", markdown), ("html", html)] {
        // Wrapped table lines read as one.
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let starts: Vec<usize> = ids
            .iter()
            .map(|id| {
                text.find(id)
                    .unwrap_or_else(|| panic!("{name}: {id}\n{text}"))
            })
            .collect();
        assert!(
            starts.windows(2).all(|w| w[0] < w[1]),
            "{name}: targets in the JSON's order"
        );
        for (i, t) in targets.iter().enumerate() {
            let section = &text[starts[i]..starts.get(i + 1).copied().unwrap_or(text.len())];
            let classes = t["classes"].as_array().unwrap();
            assert!(
                classes.len() > 5,
                "{}: the test needs more classes than are shown",
                ids[i]
            );
            let rest_flows: u64 = classes[5..]
                .iter()
                .map(|c| c["flows"].as_u64().unwrap())
                .sum();
            let more = format!(
                "… and {} more classes ({rest_flows} flows)",
                classes.len() - 5
            );
            assert!(section.contains(&more), "{name}: {more}\n{section}");
            // The five first classes of the JSON list are shown, the sixth is not (a service and
            // its first destination name one class of a target).
            let text_of = |c: &Value| {
                format!(
                    "{} to {}",
                    service(c),
                    c["destinations"][0].as_str().unwrap()
                )
            };
            for c in &classes[..5] {
                assert!(
                    section.contains(&text_of(c)),
                    "{name}: {}\n{section}",
                    text_of(c)
                );
            }
            assert!(
                !section.contains(&text_of(&classes[5])),
                "{name}: {}",
                text_of(&classes[5])
            );
        }
    }
}

#[test]
fn a_scan_without_flows_has_no_profile() {
    let out = run(
        &[
            "scan",
            "--input",
            "examples/aws/default-open",
            "--fail-on",
            "none",
            "--format",
            "json",
        ],
        root(),
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.get("flow_profile").is_none());
    let table = String::from_utf8(
        run(
            &[
                "scan",
                "--input",
                "examples/aws/default-open",
                "--fail-on",
                "none",
                "--format",
                "table",
            ],
            root(),
        )
        .stdout,
    )
    .unwrap();
    assert!(!table.contains("Observed egress"));
}
