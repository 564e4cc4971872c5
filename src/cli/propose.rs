//! `propose`: verified least-privilege egress rules from exports and flow logs.

use super::{EXIT_FINDINGS, EXIT_OK};
use crate::normalize::{Loader, Options};
use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ProposeArgs {
    /// Exports or snapshots, files or folders (repeatable), as for `scan --input`.
    #[arg(long, short = 'i', required = true)]
    pub input: Vec<PathBuf>,
    /// Flow logs, files or folders (repeatable).
    #[arg(long, required = true)]
    pub flows: Vec<PathBuf>,
    /// Also allow the ambiguous classes (observed, neither a check's traffic nor `[[authorized]]`).
    #[arg(long)]
    pub include_ambiguous: bool,
    /// text (commands, IpPermissions JSON, what it blocks), terraform, or json.
    #[arg(long, short = 'f', default_value = "text", value_parser = ["text", "terraform", "json"])]
    pub format: String,
    /// Write to FILE (atomically) instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Config file (`[[authorized]]`, `window_days`) [default: ./egress-audit.toml if present].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The observation window in days [default: 90, or the config's `window_days`].
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub window: Option<u32>,
    /// Microsoft's service-tags JSON, so Azure service tags resolve to ranges.
    #[arg(long)]
    pub service_tags: Option<PathBuf>,
}

pub fn run_propose(args: ProposeArgs) -> anyhow::Result<i32> {
    let (config, catalog) = super::scan::load_config_and_catalog(args.config.as_deref(), &[])?;
    let mut opts = Options::default();
    if let Some(p) = &args.service_tags {
        opts.azure_service_tags = Some(crate::normalize::azure::ServiceTags::load(p)?);
    }
    let mut loader = Loader::default();
    loader.add_paths(&args.input)?;
    let inventory = loader.build(&opts);
    let profile = crate::flows::read_flows(&args.flows)?;
    let days = crate::flows::window_days(&config, args.window);
    let analysis = crate::flows::analyze(&inventory, &profile, &catalog, &config, days)?;
    let proposals = crate::propose::propose(
        &inventory,
        &analysis,
        &profile,
        &catalog,
        &config,
        crate::propose::Options {
            include_ambiguous: args.include_ambiguous,
        },
    )?;
    let text = match args.format.as_str() {
        "json" => serde_json::to_string_pretty(&proposals)? + "\n",
        "terraform" => crate::propose::render::terraform(&proposals),
        _ => crate::propose::render::text(&proposals, &analysis),
    };
    match &args.output {
        Some(path) => crate::report::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?,
        None => super::scan::write_stdout(&text)?,
    }
    // A proposal the engine could not verify is a failure to act on, not a result.
    Ok(if proposals.iter().all(|p| p.verified) {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}
