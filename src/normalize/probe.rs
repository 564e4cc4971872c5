//! Probe results (`egress-audit probe --format json`) → observed targets. (Skeleton.)

use super::{DocContext, Inventory, Options};
use serde_json::Value;

#[derive(Default, Debug)]
pub struct ProbeBundle {}

impl ProbeBundle {
    pub fn detect(_v: &Value) -> bool {
        false
    }
    pub fn add(&mut self, _v: Value, _ctx: &DocContext) -> Result<(), String> {
        Ok(())
    }
    pub fn build(self, _opts: &Options, _inv: &mut Inventory) {}
}
