//! `egress-audit probe`: live egress tests from inside a host. (Skeleton.)
