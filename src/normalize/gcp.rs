//! gcp exports → targets. (Skeleton: the interface the loader calls; to be filled in.)

use super::{DocContext, Inventory, Options};
use serde_json::Value;

#[derive(Default, Debug)]
pub struct GcpBundle {}

impl GcpBundle {
    /// The kind of document, if this provider recognises it.
    pub fn detect(_v: &Value) -> Option<&'static str> {
        None
    }

    /// Parses one document of a detected kind; an error names the object and field that is wrong.
    pub fn add(&mut self, _kind: &'static str, _v: Value, _ctx: &DocContext) -> Result<(), String> {
        Ok(())
    }

    /// Builds targets from everything added.
    pub fn build(self, _opts: &Options, _inv: &mut Inventory) {}
}
