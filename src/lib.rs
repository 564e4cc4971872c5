//! egress-audit: finds weak outbound controls in cloud accounts and proves them with live probes.
//!
//! Data flows one way: collect → snapshot → normalize → evaluate → check → report. Each step is a
//! crate of its own (see docs/ARCHITECTURE.md); this crate is the command line over them, and
//! re-exports their modules under the paths that tests and embedders use.

#![forbid(unsafe_code)]

pub mod cli;

pub use egress_audit_engine::{checks, config, diag, eval, flows, model, normalize, propose};
pub use egress_audit_probe::{probe, serve};
pub use egress_audit_report as report;
