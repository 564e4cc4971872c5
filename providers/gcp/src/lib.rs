//! Collector for gcp. Fetches the control-plane data that egress-audit judges and returns it as an
//! [`egress_audit_snapshot::Snapshot`] whose documents have the same shape as the CLI's JSON.
