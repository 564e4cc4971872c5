//! The live collectors against local stand-ins for the clouds: the real AWS SDK against moto
//! (each test starts its own server), and the Azure and GCP clients against a local server
//! replaying the documented REST JSON. One binary for the three (each behind its cargo feature):
//! one link of the SDKs instead of three.
//!
//! One cloud alone: `cargo test --workspace --all-features --test live aws_live::`.

#[cfg(feature = "aws")]
#[path = "../support/fault_proxy.rs"]
mod fault_proxy;
#[cfg(feature = "aws")]
#[path = "../support/moto.rs"]
mod moto;

mod aws_live;
mod azure_live;
mod gcp_live;
