//! egress-audit: finds weak outbound controls in cloud accounts and proves them with live probes.
//!
//! Data flows one way: collect → snapshot → normalize → evaluate → check → report.

pub mod checks;
pub mod cli;
pub mod config;
pub mod eval;
pub mod flows;
pub mod model;
pub mod normalize;
pub mod probe;
pub mod propose;
pub mod report;
pub mod serve;
