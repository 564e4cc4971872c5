//! Every test that needs neither a cloud emulator nor root: normalizers, real-shaped exports,
//! reviews, checks, config and baselines, report formats, the command line, flows, the
//! brute-force proptests and the goldens. One binary rather than one per file: each test binary
//! links the whole crate and its dependencies, so linking them was most of an incremental
//! `cargo test`. Nothing here changes process-global state (environment, current directory,
//! umask), so the modules can share a process.
//!
//! One part alone: `cargo test --workspace --all-features --test offline golden::` (a module
//! name is a filter).

// Shared helpers, compiled once for the whole binary.
#[path = "../support/azure.rs"]
mod azure;
#[path = "../support/fail_closed.rs"]
mod fail_closed;
#[path = "../support/inputs.rs"]
mod inputs;

mod aws_normalize;
mod aws_real_shapes;
mod aws_review;
mod aws_shared_groups;
mod azure_normalize;
mod azure_real_shapes;
mod azure_review;
mod checks_engine;
mod checks_review;
mod cli;
mod config_baseline;
mod flows;
mod gcp_normalize;
mod gcp_real_shapes;
mod gcp_review;
mod golden;
mod proptest_providers;
mod report_formats;
mod rule_fixtures;
