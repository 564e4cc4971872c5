//! `scan`, `collect` and `rules`.

use super::{aws, azure, gcp, EXIT_FINDINGS, EXIT_OK, EXIT_PARTIAL};
use crate::checks::Catalog;
use crate::config::Config;
use crate::model::{Report, Severity};
use crate::normalize::{Loader, Options};
use crate::report::Format;
use anyhow::Context;
use egress_audit_snapshot::Snapshot;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// A live source; without one, only `--input` is read.
    #[command(subcommand)]
    pub source: Option<LiveSource>,
    #[command(flatten)]
    pub opts: ScanOpts,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum LiveSource {
    /// Scan AWS accounts live (aws-sdk-ec2).
    Aws(aws::AwsArgs),
    /// Scan Azure subscriptions live (ARM REST API).
    Azure(azure::AzureArgs),
    /// Scan GCP projects live (Compute API).
    Gcp(gcp::GcpArgs),
}

#[derive(clap::Args, Debug)]
pub struct ScanOpts {
    /// An export, snapshot or probe result, or a folder of them (repeatable; all combine into one view).
    #[arg(long, short = 'i', global = true)]
    pub input: Vec<PathBuf>,
    /// Output format [default: table on a terminal, else json].
    #[arg(long, short = 'f', value_enum, global = true)]
    pub format: Option<Format>,
    /// Write the report to FILE (atomically) instead of standard output.
    #[arg(long, short = 'o', global = true)]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity [default: medium, or the config's].
    #[arg(long, global = true)]
    pub fail_on: Option<Severity>,
    /// Config file [default: ./egress-audit.toml if present].
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// A folder of extra rule files (repeatable).
    #[arg(long, global = true)]
    pub rules: Vec<PathBuf>,
    /// Report only findings that are not in this previous JSON report.
    #[arg(long, global = true)]
    pub baseline: Option<PathBuf>,
    /// Microsoft's service-tags JSON, so Azure service tags resolve to ranges.
    #[arg(long, global = true)]
    pub service_tags: Option<PathBuf>,
    /// Lower findings to info where route data shows no path to the internet (config:
    /// `lower_unreachable = true`); by default they keep their severity, with a note.
    #[arg(long, global = true)]
    pub lower_unreachable: bool,
    /// Exit by findings alone even when some account, region or file was not read.
    #[arg(long, global = true)]
    pub allow_partial: bool,
    /// No progress output.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

#[derive(clap::Args, Debug)]
pub struct CollectArgs {
    #[command(subcommand)]
    pub source: LiveSource,
    /// Where to write the snapshot.
    #[arg(long, global = true, default_value = "snapshot.json")]
    pub out: PathBuf,
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

#[derive(clap::Args, Debug)]
pub struct RulesArgs {
    /// A folder of extra rule files (repeatable).
    #[arg(long)]
    pub rules: Vec<PathBuf>,
    /// table, json or markdown.
    #[arg(long, short = 'f', default_value = "table")]
    pub format: String,
}

fn collect_live(source: &LiveSource, quiet: bool) -> anyhow::Result<Snapshot> {
    match source {
        LiveSource::Aws(a) => aws::collect(a, quiet),
        LiveSource::Azure(a) => azure::collect(a, quiet),
        LiveSource::Gcp(a) => gcp::collect(a, quiet),
    }
}

pub fn run_collect(args: CollectArgs) -> anyhow::Result<i32> {
    let snap = collect_live(&args.source, args.quiet)?;
    let text = serde_json::to_string_pretty(&snap)?;
    crate::report::write_atomic(&args.out, text.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    if !args.quiet {
        eprintln!(
            "egress-audit: wrote {} documents to {}{}",
            snap.documents.len(),
            args.out.display(),
            if snap.is_partial() {
                format!(" (partial: {} scopes not read)", snap.not_scanned.len())
            } else {
                String::new()
            }
        );
    }
    Ok(if snap.is_partial() {
        EXIT_PARTIAL
    } else {
        EXIT_OK
    })
}

pub fn run_rules(args: RulesArgs) -> anyhow::Result<i32> {
    let catalog = Catalog::load(&args.rules)?;
    write_stdout(&crate::report::catalog::render_catalog(
        &catalog,
        &args.format,
    )?)?;
    Ok(EXIT_OK)
}

pub fn run_scan(args: ScanArgs) -> anyhow::Result<i32> {
    let o = &args.opts;
    if args.source.is_none() && o.input.is_empty() {
        anyhow::bail!("nothing to scan: give --input FILE|FOLDER (exports, snapshots, probe results) or a live source (`scan aws`, `scan azure`, `scan gcp`)");
    }
    let mut config = Config::load(o.config.as_deref())?;
    config.lower_unreachable |= o.lower_unreachable;
    let catalog = Catalog::load(&o.rules)?;
    config.validate(&catalog)?;
    let mut opts = Options::default();
    if let Some(p) = &o.service_tags {
        opts.azure_service_tags = Some(crate::normalize::azure::ServiceTags::load(p)?);
    }
    let mut loader = Loader::default();
    for p in &o.input {
        loader.add_path(p)?;
    }
    if let Some(src) = &args.source {
        let snap = collect_live(src, o.quiet)?;
        let ctx = crate::normalize::DocContext {
            source: "live snapshot".into(),
            ..Default::default()
        };
        loader.add_value(serde_json::to_value(snap)?, &ctx)?;
    }
    let inventory = loader.build(&opts);
    let findings = crate::checks::run(&inventory, &catalog, &config)?;
    let mut report = Report::new(
        findings,
        inventory.warnings,
        inventory.not_scanned,
        inventory.targets.len(),
    );
    config.apply(&mut report, chrono::Local::now().date_naive());
    if let Some(b) = &o.baseline {
        crate::report::baseline::apply(b, &mut report)?;
    }
    report.recount();

    let format = o
        .format
        .unwrap_or(if o.output.is_none() && std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        });
    // Streamed to its destination: a large estate's report is never held as one string.
    let write = |w: &mut dyn std::io::Write| {
        crate::report::write_report(&report, format, &catalog, w).map_err(std::io::Error::other)
    };
    match &o.output {
        Some(path) => crate::report::write_atomic_with(path, write)
            .with_context(|| format!("writing {}", path.display()))?,
        None => write_stdout_with(write)?,
    }
    let gate = o.fail_on.or(config.fail_on).unwrap_or(Severity::Medium);
    let failing = report.worst().is_some_and(|w| w >= gate);
    // A partial scan says so in its exit status even when it has findings: what was not read may
    // hold worse. `--allow-partial` exits by findings alone.
    if report.summary.partial {
        eprintln!(
            "egress-audit: the scan is partial: {} scope(s) were not read (see not_scanned)",
            report.not_scanned.len()
        );
        if !o.allow_partial {
            return Ok(EXIT_PARTIAL);
        }
    }
    Ok(if failing { EXIT_FINDINGS } else { EXIT_OK })
}

/// [`write_stdout`] for content written as it is produced.
fn write_stdout_with(
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match fill(&mut out).and_then(|_| out.flush()) {
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => Ok(other?),
    }
}

/// A broken pipe, also when it comes wrapped (serde_json's and anyhow's errors carry the io one).
fn is_broken_pipe(e: &std::io::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return true;
            }
        }
        if let Some(j) = err.downcast_ref::<serde_json::Error>() {
            if j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// Writes to standard output; a reader that went away (`| head`) is not an error.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
