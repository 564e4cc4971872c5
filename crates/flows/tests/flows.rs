//! The flow readers against generated logs of every format (exact profiles), corrupt input, the
//! dated layout's holes, the aggregated format, and the SQL through a real DuckDB.

#[path = "flows/errors.rs"]
mod errors;
#[path = "flows/expect.rs"]
mod expect;
#[path = "flows/formats.rs"]
mod formats;
#[path = "flows/sql.rs"]
mod sql;
