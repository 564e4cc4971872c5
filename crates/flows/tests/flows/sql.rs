//! The SQL through a real DuckDB: placeholder.
