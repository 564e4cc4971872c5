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
glob, sql, out = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
con = duckdb.connect()
con.execute(f"CREATE VIEW vpc_flow_logs AS SELECT * FROM read_parquet('{glob}', union_by_name = true, hive_partitioning = false)")
con.execute(f"COPY ({sql}) TO '{out}' (HEADER, DELIMITER ',')")
"#;

pub fn run_duckdb(glob: &str, sql: &str, out: &std::path::Path) {
    let dir = out.parent().unwrap();
    let sql_file = dir.join("query.sql");
    std::fs::write(&sql_file, sql).unwrap();
    let res = Command::new("python3")
        .args(["-c", DUCKDB_RUN, glob])
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
    let glob = format!("{}/**/*.parquet", dir.path().display());
    run_duckdb(&glob, &aggregation_sql(SqlEngine::DuckDb), &csv);
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
