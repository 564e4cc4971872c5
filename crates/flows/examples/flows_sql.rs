//! Prints `aggregation_sql` for an engine (default DuckDB): `flows_sql [athena|bigquery|duckdb]`.

use egress_audit_flows::{aggregation_sql, SqlEngine};

fn main() {
    let engine = match std::env::args().nth(1).as_deref() {
        None | Some("duckdb") => SqlEngine::DuckDb,
        Some("athena") => SqlEngine::Athena,
        Some("bigquery") => SqlEngine::BigQuery,
        Some(other) => {
            eprintln!("unknown engine {other}: athena, bigquery or duckdb");
            std::process::exit(2);
        }
    };
    print!("{}", aggregation_sql(engine));
}
