//! The aggregation as SQL, for when the logs live in S3 / BigQuery: see docs/FLOWS.md.

/// Which SQL dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlEngine {
    Athena,
    BigQuery,
    DuckDb,
}

pub fn aggregation_sql(engine: SqlEngine) -> String {
    let _ = engine;
    String::new()
}
