//! The engine of egress-audit: every input becomes one provider-neutral model, every target is
//! evaluated as an exact set, and the checks query the result.
//!
//! Data flows one way: inputs (exports, snapshots, probe results) → [`normalize`] → the
//! [`model`]'s targets → [`eval`] → [`checks`] → findings, which the report crate renders. The
//! engine never calls a cloud and never touches the network: collectors write snapshots, probes
//! write results, and both enter here through the normalizers like any other file.

pub mod checks;
pub mod config;
pub mod diag;
pub mod eval;
pub mod flows;
pub mod model;
pub mod normalize;
pub mod order;
pub mod propose;
