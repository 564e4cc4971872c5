//! `flows sql`: the aggregation to run where the logs already are (Athena, BigQuery, DuckDB); its
//! result is a `--flows` input like any flow log (docs/FLOWS.md).

use super::scan::write_stdout;
use super::EXIT_OK;
use egress_audit_flows::{aggregation_sql, SqlEngine};

#[derive(clap::Args, Debug)]
pub struct FlowsArgs {
    #[command(subcommand)]
    pub command: FlowsCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum FlowsCommand {
    /// Print the SQL that aggregates exported flow logs into egress-audit's aggregated format.
    Sql(SqlArgs),
}

#[derive(clap::Args, Debug)]
pub struct SqlArgs {
    /// The query engine the logs live in.
    #[arg(long, value_enum)]
    pub engine: Engine,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Engine {
    /// Amazon Athena (Trino) over the VPC flow log table of docs/FLOWS.md.
    Athena,
    /// Google BigQuery over the Cloud Logging sink tables.
    Bigquery,
    /// DuckDB over AWS flow log files (Parquet or text).
    Duckdb,
}

pub fn run_flows(args: FlowsArgs) -> anyhow::Result<i32> {
    match args.command {
        FlowsCommand::Sql(a) => {
            let engine = match a.engine {
                Engine::Athena => SqlEngine::Athena,
                Engine::Bigquery => SqlEngine::BigQuery,
                Engine::Duckdb => SqlEngine::DuckDb,
            };
            let mut sql = aggregation_sql(engine);
            if !sql.ends_with('\n') {
                sql.push('\n');
            }
            write_stdout(&sql)?;
            Ok(EXIT_OK)
        }
    }
}
