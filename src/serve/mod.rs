//! `egress-audit serve`: answer on every TCP port and echo UDP, for self-hosted probes. (Skeleton.)
