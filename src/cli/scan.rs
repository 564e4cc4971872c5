//! `scan`, `collect` and `rules`.

use super::{aws, azure, gcp, EXIT_FINDINGS, EXIT_OK, EXIT_PARTIAL};
use crate::checks::Catalog;
use crate::config::Config;
use crate::model::{Report, Severity};
use crate::normalize::{Loader, Options};
use crate::report::{Format, GroupBy};
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
    /// Output format [default: table on a terminal, else json]. Repeat it once per `--output`
    /// (same order) to set each file's format; otherwise a file's format comes from its extension.
    #[arg(long, short = 'f', value_enum, global = true)]
    pub format: Vec<Format>,
    /// Write the report to FILE (atomically) instead of standard output; repeatable, the scan runs
    /// once: `-o report.sarif -o report.json -o summary.md` (.sarif .json .md .csv .html .xml .txt).
    #[arg(long, short = 'o', global = true)]
    pub output: Vec<PathBuf>,
    /// Exit 1 when a finding is at or above this severity, or `none` to never fail on findings
    /// [default: medium, or the config's]. A partial scan still exits 3 unless --allow-partial.
    #[arg(long, global = true)]
    pub fail_on: Option<FailOn>,
    /// Group the table, Markdown and HTML by root cause, target or check.
    #[arg(long, value_enum, global = true, default_value = "cause")]
    pub group_by: GroupBy,
    /// Colour the table: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, value_enum, global = true, default_value = "auto")]
    pub color: ColorChoice,
    /// Show every finding with its deciding rules in the table.
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
    /// Keep only findings of these severities (repeatable or comma-separated).
    #[arg(long, global = true, value_delimiter = ',')]
    pub severity: Vec<Severity>,
    /// Keep only these checks, by id or slug (repeatable or comma-separated).
    #[arg(long, global = true, value_delimiter = ',')]
    pub check: Vec<String>,
    /// Drop these checks, by id or slug (repeatable or comma-separated).
    #[arg(long, global = true, value_delimiter = ',')]
    pub skip_check: Vec<String>,
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
    /// Flow logs (AWS VPC, Azure VNet/NSG, GCP VPC/firewall), files or folders (repeatable):
    /// observed findings, EG014 unused-rule and EG015 unused-attributes.
    #[arg(long, global = true)]
    pub flows: Vec<PathBuf>,
    /// The flow observation window in days, ending at the newest record [default: 90, or the
    /// config's `window_days`].
    #[arg(long, global = true, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub window: Option<u32>,
}

/// `--fail-on`: a severity, or `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    Never,
    At(Severity),
}

impl std::str::FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("never") {
            return Ok(FailOn::Never);
        }
        s.parse::<Severity>()
            .map(FailOn::At)
            .map_err(|e| format!("{e}, or none"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// `auto`: standard output is a terminal, `NO_COLOR` is unset or empty (no-color.org) and
    /// `TERM` is not `dumb`.
    fn enabled(self, to_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                to_terminal
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var("TERM").map_or(true, |t| t != "dumb")
            }
        }
    }
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

/// The rule catalog and the config, or every error in both (each at its file:line:column) in one
/// go; a file that cannot be read at all stops at once.
pub fn load_config_and_catalog(
    config: Option<&std::path::Path>,
    rules: &[PathBuf],
) -> anyhow::Result<(Config, Catalog)> {
    use crate::checks::CatalogError;
    use crate::config::ConfigError;
    let mut errors = Vec::new();
    let catalog = match Catalog::load(rules) {
        Ok(c) => Some(c),
        Err(CatalogError::Invalid(d)) => {
            errors.extend(d.0);
            None
        }
        Err(e) => return Err(e.into()),
    };
    // Without a catalog the config's check ids cannot be checked; its other errors still can.
    let config = match Config::load_checked(config, catalog.as_ref()) {
        Ok(c) => Some(c),
        Err(ConfigError::Invalid(d)) => {
            errors.extend(d.0);
            None
        }
        Err(e) => return Err(e.into()),
    };
    crate::diag::Diagnostics::into_result(errors)?;
    // A part that did not load left an error above.
    config
        .zip(catalog)
        .ok_or_else(|| anyhow::anyhow!("the config or the rules did not load"))
}

/// With `EGRESS_AUDIT_TRACE_STAGES` set, `scan` prints each stage's end on stderr: seconds since
/// the start, resident and peak memory. `bench/estate.sh` uses it to show where an estate's
/// time and memory go.
struct StageTrace(Option<std::time::Instant>);

impl StageTrace {
    fn from_env() -> Self {
        StageTrace(std::env::var_os("EGRESS_AUDIT_TRACE_STAGES").map(|_| std::time::Instant::now()))
    }

    fn stage(&self, name: &str) {
        let Some(start) = self.0 else { return };
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let mib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .map_or(0, |kib| kib / 1024)
        };
        eprintln!(
            "stage {name:<10} {:>7.2} s  rss {:>6} MiB  peak {:>6} MiB",
            start.elapsed().as_secs_f64(),
            mib("VmRSS:"),
            mib("VmHWM:")
        );
    }
}

pub fn run_scan(args: ScanArgs) -> anyhow::Result<i32> {
    let trace = StageTrace::from_env();
    let o = &args.opts;
    if args.source.is_none() && o.input.is_empty() {
        anyhow::bail!("nothing to scan: give --input FILE|FOLDER (exports, snapshots, probe results) or a live source (`scan aws`, `scan azure`, `scan gcp`)");
    }
    let (mut config, catalog) = load_config_and_catalog(o.config.as_deref(), &o.rules)?;
    config.lower_unreachable |= o.lower_unreachable;
    // Usage errors before the scan, which may be a slow live collection.
    let outputs = outputs(o)?;
    crate::report::filter::resolve(&catalog, &o.check, "--check")?;
    crate::report::filter::resolve(&catalog, &o.skip_check, "--skip-check")?;
    let mut opts = Options::default();
    if let Some(p) = &o.service_tags {
        opts.azure_service_tags = Some(crate::normalize::azure::ServiceTags::load(p)?);
    }
    let mut loader = Loader::default();
    let mut scope = crate::model::Scope {
        inputs: o.input.iter().map(|p| p.display().to_string()).collect(),
        ..Default::default()
    };
    // Every bad input is reported before exit 2, and none of them makes a report.
    loader.add_paths(&o.input)?;
    scope.files = loader.files_read;
    trace.stage("read");
    if let Some(src) = &args.source {
        let snap = collect_live(src, o.quiet)?;
        scope.live = crate::model::Scope::live_of(&snap);
        let ctx = crate::normalize::DocContext {
            source: "live snapshot".into(),
            ..Default::default()
        };
        loader.add_value(serde_json::to_value(snap)?, &ctx)?;
    }
    let mut inventory = loader.build(&opts);
    trace.stage("build");
    let mut findings = crate::checks::run(&inventory, &catalog, &config)?;
    trace.stage("checks");
    let mut flow_profile = None;
    if !o.flows.is_empty() {
        let profile = crate::flows::read_flows(&o.flows)?;
        let days = crate::flows::window_days(&config, o.window);
        let observed = crate::flows::analyze(&inventory, &profile, &catalog, &config, days)?;
        flow_profile = Some(crate::flows::profile::build(&observed, &inventory.targets));
        findings.extend(observed.findings);
        inventory.warnings.extend(observed.warnings);
    }
    let rec = crate::checks::reconcile::reconcile(&inventory, &catalog, &config, &mut findings);
    let consistency = crate::checks::consistency::matrix(&inventory, &rec.reconciliations);
    trace.stage("reconcile");
    let mut report = Report::new(
        findings,
        inventory.warnings,
        inventory.not_scanned,
        // A probe matched to its workload is part of that target, not one of its own.
        inventory.targets.len() - rec.matched_probes,
    );
    report.scope = scope;
    report.reconciliation = rec.reconciliations;
    report.consistency = consistency;
    report.flow_profile = flow_profile;
    config.apply(&mut report, chrono::Local::now().date_naive());
    if let Some(b) = &o.baseline {
        crate::report::baseline::apply(b, &mut report)?;
    }

    crate::report::filter::apply(&mut report, &o.severity, &o.check, &o.skip_check, &catalog)?;
    report.recount();
    trace.stage("filter");

    let gate = match o.fail_on {
        Some(FailOn::Never) => None,
        Some(FailOn::At(s)) => Some(s),
        None => Some(config.fail_on.unwrap_or(Severity::Medium)),
    };
    let mut ctx = crate::report::Context::new(&report, &catalog, &inventory.targets);
    // A probe matched to its workload is shown on that workload's row, not as a target of its own.
    ctx.targets.retain(|k| {
        !(k.provider == egress_audit_snapshot::Provider::Probe.as_str()
            && rec.matched_probe_ids.iter().any(|p| *p == k.resource_id))
    });
    ctx.causes.apply(&mut report);
    trace.stage("causes");
    ctx.gate = gate;
    ctx.checked = crate::report::filter::checks_run(
        &catalog,
        &config.disabled,
        &o.severity,
        &o.check,
        &o.skip_check,
    );
    ctx.generated = Some(chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string());
    ctx.style.group_by = o.group_by;
    ctx.style.verbose = o.verbose;
    for (format, path) in outputs {
        let to_terminal = path.is_none() && std::io::stdout().is_terminal();
        ctx.style.color = o.color.enabled(to_terminal);
        ctx.style.width = if path.is_none() {
            crate::report::table_width()
        } else {
            100
        };
        // Streamed to its destination: a large estate's report is never held as one string.
        let write = |w: &mut dyn std::io::Write| {
            crate::report::write_report(&report, format, &ctx, w).map_err(as_io_error)
        };
        match path {
            Some(path) => crate::report::write_atomic_with(&path, write)
                .with_context(|| format!("writing {}", path.display()))?,
            None => write_stdout_with(write)?,
        }
    }
    trace.stage("written");
    let failing = gate.is_some_and(|g| report.worst().is_some_and(|w| w >= g));
    let (partial, unread) = (report.summary.partial, report.not_scanned.len());
    // The process ends right after: freeing a large estate's millions of small allocations one
    // by one took seconds, for memory that the exit returns at once.
    std::mem::forget(ctx);
    std::mem::forget(report);
    std::mem::forget(inventory.targets);
    // A partial scan says so in its exit status even when it has findings: what was not read may
    // hold worse. `--allow-partial` exits by findings alone.
    if partial {
        eprintln!(
            "egress-audit: the scan is partial: {unread} scope(s) were not read (see not_scanned)"
        );
        if !o.allow_partial {
            return Ok(EXIT_PARTIAL);
        }
    }
    Ok(if failing { EXIT_FINDINGS } else { EXIT_OK })
}

/// Each output's format and file (`None`: standard output). A file's format is the `--format`
/// given in the same position when there is one per file, else its extension's, else the single
/// `--format`.
fn outputs(o: &ScanOpts) -> anyhow::Result<Vec<(Format, Option<PathBuf>)>> {
    if o.output.is_empty() {
        let format = match o.format.as_slice() {
            [] if std::io::stdout().is_terminal() => Format::Table,
            [] => Format::Json,
            [f] => *f,
            _ => anyhow::bail!(
                "{} formats for standard output: give one --format, or one --output FILE per format",
                o.format.len()
            ),
        };
        return Ok(vec![(format, None)]);
    }
    if o.format.len() > 1 && o.format.len() != o.output.len() {
        anyhow::bail!(
            "{} --format for {} --output: give one --format per output, in the same order, or one for all",
            o.format.len(),
            o.output.len()
        );
    }
    let mut seen = std::collections::HashSet::new();
    o.output
        .iter()
        .enumerate()
        .map(|(i, path)| {
            if !seen.insert(path) {
                anyhow::bail!("{}: given twice as --output", path.display());
            }
            let format = if o.format.len() == o.output.len() {
                o.format[i]
            } else {
                match (Format::from_path(path), o.format.first()) {
                    (Some(f), _) | (None, Some(&f)) => f,
                    (None, None) => anyhow::bail!(
                        "{}: cannot tell the format from the extension; use .sarif, .json, .md, .csv, .html, .xml (JUnit) or .txt, or give --format",
                        path.display()
                    ),
                }
            };
            Ok((format, Some(path.clone())))
        })
        .collect()
}

/// [`write_stdout`] for content written as it is produced.
fn write_stdout_with(
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match fill(&mut out).and_then(|_| out.flush()) {
        // `as_io_error` kept the kind of an I/O error under a report's own.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// A report's write error as the I/O error under it (so that a closed pipe is seen as one), else
/// as an error of its own.
fn as_io_error(e: anyhow::Error) -> std::io::Error {
    for cause in e.chain() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return std::io::Error::new(io.kind(), e.to_string());
        }
        if let Some(kind) = cause
            .downcast_ref::<serde_json::Error>()
            .and_then(serde_json::Error::io_error_kind)
        {
            return std::io::Error::new(kind, e.to_string());
        }
    }
    std::io::Error::other(e)
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
