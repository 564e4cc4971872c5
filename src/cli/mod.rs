//! The command line: a thin layer over normalize → eval → checks → report.

pub mod aws;
pub mod azure;
pub mod completions;
pub mod flows;
pub mod gcp;
pub mod probe;
pub mod propose;
pub mod scan;

use clap::{Parser, Subcommand};

/// Exit statuses (README "Exit status").
pub const EXIT_OK: i32 = 0;
pub const EXIT_FINDINGS: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_PARTIAL: i32 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "egress-audit",
    version,
    about = "Find weak outbound (egress) controls in AWS, Azure and GCP, and prove them with live probes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Evaluate effective egress and run the checks, on exports (`--input`) or a live account.
    Scan(scan::ScanArgs),
    /// Fetch a cloud's network controls into a snapshot file for a later `scan --input`.
    Collect(scan::CollectArgs),
    /// Flow-log helpers: `flows sql --engine athena|bigquery|duckdb` prints the aggregation to run
    /// where the logs live; its result is a `--flows` input.
    Flows(flows::FlowsArgs),
    /// Propose verified least-privilege egress rules from flow logs.
    Propose(propose::ProposeArgs),
    /// Print the check catalog.
    Rules(scan::RulesArgs),
    /// Test from this host which ports and protocols actually leave the network.
    Probe(probe::ProbeArgs),
    /// Answer on every TCP port (and echo UDP) so that probes have a target of your own.
    Serve(probe::ServeArgs),
    /// Print a shell completion script: `egress-audit completions bash > /etc/bash_completion.d/egress-audit`.
    Completions(completions::CompletionsArgs),
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        Command::Scan(a) => scan::run_scan(a),
        Command::Collect(a) => scan::run_collect(a),
        Command::Rules(a) => scan::run_rules(a),
        Command::Flows(a) => flows::run_flows(a),
        Command::Propose(a) => propose::run_propose(a),
        Command::Probe(a) => probe::run_probe(a),
        Command::Serve(a) => probe::run_serve(a),
        Command::Completions(a) => completions::run_completions(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            EXIT_USAGE
        }
    }
}

/// One `error:` line per error: every bad input or config value of the run, the config's and rule
/// files' with the line at fault underlined (as cargo-deny does).
fn print_error(e: &anyhow::Error) {
    // Messages quote file contents and resource names: never send their control characters (an
    // escape sequence in a name) to the terminal raw.
    let escape = |s: &str| crate::report::text::escape_controls(s, true);
    if let Some(list) = e.downcast_ref::<crate::diag::Diagnostics>() {
        for d in &list.0 {
            eprintln!("egress-audit: error: {}", escape(&d.to_string()));
            if let Some(snippet) = d.snippet() {
                eprintln!("{}", escape(&snippet));
            }
        }
    } else if let Some(list) = e.downcast_ref::<crate::normalize::InputErrors>() {
        for i in &list.0 {
            eprintln!("egress-audit: error: {}", escape(&i.to_string()));
        }
    } else {
        eprintln!("egress-audit: error: {}", escape(&format!("{e:#}")));
    }
}

/// A tokio runtime for the commands that need one (live collection, probes, serve).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
