//! Live measurements from inside a host: [`probe`] tests which ports and protocols leave the
//! network, and [`serve`] is the all-ports responder those probes can aim at.
//!
//! This is the only crate of egress-audit with `unsafe` code: raw ICMP sockets, socket options
//! (`TCP_INFO`, `SO_ORIGINAL_DST`, `IP_TRANSPARENT`) and resource limits have no safe wrapper in
//! the standard library. Every `unsafe` block carries its own SAFETY comment (clippy enforces it).

pub mod probe;
pub mod serve;
