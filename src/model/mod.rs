//! The provider-neutral model: traffic sets, normalized policies, findings.

pub mod finding;
pub mod policy;
pub mod reconciliation;
pub mod space;

pub use finding::{
    Evidence, Finding, ObservedSource, Report, Severity, Summary, ToolInfo, Warning,
};
pub use policy::{Action, Chain, Identity, Layer, LayerKind, RouteInfo, Rule, Target};
pub use space::{AddrSet, PortSet, ProtoSet, TrafficSet};
