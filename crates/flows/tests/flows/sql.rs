//! The SQL through a real DuckDB (`python3 -m pip install duckdb`; CI installs it): the query's
//! result, read back as the aggregated format, must equal the Rust reader's profile of the same
//! Parquet files. Without DuckDB this test fails: it never skips.

use crate::expect::{assert_same_flows, expected, read, Fmt};
use egress_audit_flows::aws_text::DEFAULT_FORMAT;
use egress_audit_flows::generate;
use egress_audit_flows::{aggregation_sql, FlowStats, SqlEngine};
use std::process::Command;

const DUCKDB_RUN: &str = r#"
import sys
try:
    import duckdb
except ImportError:
    sys.exit("the duckdb Python module is missing: python3 -m pip install duckdb")
source, sql, out = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
con = duckdb.connect()
con.execute(f"CREATE VIEW vpc_flow_logs AS {source}")
con.execute(f"COPY ({sql}) TO '{out}' (HEADER, DELIMITER ',')")
"#;

/// Runs `sql` in DuckDB over the view `vpc_flow_logs` defined as `source` (a SELECT), writing CSV.
pub fn run_duckdb(source: &str, sql: &str, out: &std::path::Path) {
    let dir = out.parent().unwrap();
    let sql_file = dir.join("query.sql");
    std::fs::write(&sql_file, sql).unwrap();
    let res = Command::new("python3")
        .args(["-c", DUCKDB_RUN, source])
        .arg(&sql_file)
        .arg(out)
        .output()
        .expect("python3 runs");
    assert!(
        res.status.success(),
        "DuckDB failed (CI installs it with pip): {}",
        String::from_utf8_lossy(&res.stderr)
    );
}

#[test]
fn duckdb_runs_the_sql_to_the_same_profile_as_the_rust_reader() {
    let dir = tempfile::tempdir().unwrap();
    let v5 = generate::records(9, 3000, 8, 1_796_000_000);
    let v2 = generate::records(10, 2000, 8, 1_796_100_000);
    let day = |d: &str| {
        let p = dir.path().join(format!(
            "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=12/day={d}"
        ));
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    generate::aws_parquet(&day("01").join("a.parquet"), &v5).unwrap();
    // The default format's columns only: no flow_direction, so the source decides the direction.
    generate::aws_parquet_fields(&day("02").join("b.parquet"), &v2, DEFAULT_FORMAT).unwrap();

    let rust = read(&[dir.path()]);
    let mut want = expected(&v5, Fmt::AwsV5);
    for (k, s) in expected(&v2, Fmt::AwsV2) {
        let w = want.entry(k).or_insert(FlowStats { flows: 0, ..s });
        w.flows += s.flows;
        if w.flows > s.flows {
            w.packets += s.packets;
            w.bytes += s.bytes;
            w.first_seen = w.first_seen.min(s.first_seen);
            w.last_seen = w.last_seen.max(s.last_seen);
        }
    }
    assert_same_flows(&rust.flows, &want);

    let out = tempfile::tempdir().unwrap();
    let csv = out.path().join("aggregated.csv");
    let source = format!(
        "SELECT * FROM read_parquet('{}/**/*.parquet', union_by_name = true, hive_partitioning = false)",
        dir.path().display()
    );
    run_duckdb(&source, &aggregation_sql(SqlEngine::DuckDb), &csv);
    let via_sql = read(&[&csv]);
    assert_eq!(via_sql.skipped_count, 0, "{:?}", via_sql.skipped);
    assert_same_flows(&via_sql.flows, &rust.flows);
    assert_eq!(
        via_sql.records,
        rust.flows.len() as u64,
        "DuckDB grouped exactly the Rust keys"
    );
}

#[test]
fn every_engine_has_its_query() {
    let athena = aggregation_sql(SqlEngine::Athena);
    assert!(athena.contains("regexp_like") && athena.contains("FROM vpc_flow_logs"));
    let bq = aggregation_sql(SqlEngine::BigQuery);
    assert!(
        bq.contains("compute_googleapis_com_vpc_flows_*") && bq.contains("rule_details.reference")
    );
    for sql in [athena, bq, aggregation_sql(SqlEngine::DuckDb)] {
        for col in egress_audit_flows::aggregated::COLUMNS {
            assert!(sql.contains(col), "{col}");
        }
    }
}

#[test]
fn duckdb_and_rust_agree_on_the_direction_of_records_without_one() {
    // Without flow-direction, a record is egress when its source is not public (CHECKS.md §1):
    // the SQL's regular expressions must draw the same line as the Rust reader, block by block.
    let sources = [
        "9.255.255.255",
        "10.0.0.1",
        "11.0.0.1",
        "100.63.255.255",
        "100.64.0.1",
        "100.127.255.255",
        "100.128.0.0",
        "127.0.0.1",
        "169.254.1.1",
        "169.255.0.1",
        "172.15.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "172.32.0.1",
        "192.0.0.7",
        "192.0.1.7",
        "192.0.2.7",
        "192.0.3.7",
        "192.168.1.1",
        "192.169.0.1",
        "198.17.0.1",
        "198.18.0.1",
        "198.19.255.1",
        "198.20.0.1",
        "198.51.100.1",
        "198.51.101.1",
        "203.0.113.1",
        "203.0.114.1",
        "223.255.255.255",
        "224.0.0.1",
        "239.1.1.1",
        "240.0.0.1",
        "255.255.255.255",
        "0.1.2.3",
        "1.0.0.1",
        "2600:1f14::1",
        "2001:db8::1",
        "2001:db9::1",
        "3fff::1",
        "4000::1",
        "1fff::1",
        "fd00::1",
        "fe80::1",
        "::1",
        "::ffff:8.8.8.8",
        "2a05:d018:0:0:0:0:0:1",
    ];
    let template = generate::records(11, 1, 1, 1_796_000_000).remove(0);
    let records: Vec<generate::Record> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| generate::Record {
            src: s.parse().unwrap(),
            dst: if s.contains(':') {
                "2600:1f18::1".parse().unwrap()
            } else {
                "8.8.8.8".parse().unwrap()
            },
            dst_port: 443 + i as u16,
            protocol: 6,
            status: generate::LogStatus::Ok,
            action: egress_audit_flows::Disposition::Accepted,
            pkt_dst: None,
            ..template.clone()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    generate::aws_parquet_fields(&dir.path().join("x.parquet"), &records, DEFAULT_FORMAT).unwrap();
    let rust = read(&[dir.path()]);
    assert_same_flows(&rust.flows, &expected(&records, Fmt::AwsV2));
    let kept: Vec<u16> = {
        let mut k: Vec<u16> = rust.flows.keys().map(|k| k.dst_port).collect();
        k.sort();
        k
    };
    // 10/8, 100.64/10 (both ends), 127/8, 169.254/16, 172.16/12 (both ends), 192.0.0/24, 192.0.2/24,
    // 192.168/16, 198.18/15 (both halves), 198.51.100/24, 203.0.113/24, 224/4 (two), 240/4 (two),
    // 0/8; IPv6 in 2001:db8::/32 or outside 2000::/3.
    let want: Vec<u16> = [
        1, 4, 5, 7, 8, 11, 12, 14, 16, 18, 21, 22, 24, 26, 29, 30, 31, 32, 33, 36, 39, 40, 41, 42,
        43, 44,
    ]
    .iter()
    .map(|i| 443 + i)
    .collect();
    assert_eq!(kept, want);
    let out = tempfile::tempdir().unwrap();
    let csv = out.path().join("aggregated.csv");
    // The default format's file has no instance_id, flow_direction or pkt_dstaddr column: the view
    // adds them as NULL, as docs/FLOWS.md says.
    run_duckdb(
        &format!(
            "SELECT *, NULL::VARCHAR AS instance_id, NULL::VARCHAR AS flow_direction, \
             NULL::VARCHAR AS pkt_dstaddr FROM read_parquet('{}/*.parquet')",
            dir.path().display()
        ),
        &aggregation_sql(SqlEngine::DuckDb),
        &csv,
    );
    assert_same_flows(&read(&[&csv]).flows, &rust.flows);
}
