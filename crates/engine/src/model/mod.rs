//! The provider-neutral model: traffic sets, normalized policies, findings.

pub mod cause_id;
pub mod evidence;
pub mod finding;
pub mod fingerprint;
pub mod pattern;
pub mod policy;
pub mod recent;
pub mod reconciliation;
pub mod scope;
pub mod text;
pub mod traffic;
pub use egress_audit_space as space;

pub use cause_id::CauseId;
pub use evidence::{Decides, Evidence, RuleText};
pub use finding::{
    Finding, ObservedSource, Report, Severity, Summary, ToolInfo, Warning, WarningKind,
};
pub use fingerprint::Fingerprint;
pub use pattern::Pattern;
pub use policy::{Action, Chain, Identity, Layer, LayerKind, RouteInfo, Rule, Rules, Target};
pub use scope::{LiveScope, Scope};
pub use space::{AddrSet, PortSet, ProtoSet, TrafficSet};
pub use text::Text;
