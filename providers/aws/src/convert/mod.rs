//! SDK types → the JSON that `aws ec2 describe-*` prints.
//!
//! The CLI prints the service's response with PascalCase keys and leaves out what the service did
//! not send; these converters do the same, field by field, so a snapshot reads exactly like an
//! offline export. Lists that decide egress (rules, entries, routes, groups) are always printed,
//! empty when the service sent none, so a reader never mistakes "no rules" for "unknown".

mod eni;
mod nacl;
mod network;
mod prefix;
mod sg;

pub use eni::network_interface;
pub use nacl::network_acl;
pub use network::{route_table, subnet, vpc};
pub use prefix::{managed_prefix_list, prefix_list_entry};
pub use sg::security_group;

use aws_sdk_ec2::types::Tag;
use serde_json::{Map, Value};

/// A JSON object built field by field; `None` fields are left out.
#[derive(Default)]
pub(crate) struct Obj(Map<String, Value>);

impl Obj {
    pub fn new() -> Self {
        Obj::default()
    }

    pub fn s(mut self, key: &str, v: &Option<String>) -> Self {
        if let Some(v) = v {
            self.0.insert(key.into(), Value::String(v.clone()));
        }
        self
    }

    /// An SDK enum, printed as the wire string.
    pub fn e<E: AsRef<str>>(mut self, key: &str, v: &Option<E>) -> Self {
        if let Some(v) = v {
            self.0
                .insert(key.into(), Value::String(v.as_ref().to_string()));
        }
        self
    }

    pub fn i(mut self, key: &str, v: Option<i32>) -> Self {
        if let Some(v) = v {
            self.0.insert(key.into(), Value::from(v));
        }
        self
    }

    pub fn i64(mut self, key: &str, v: Option<i64>) -> Self {
        if let Some(v) = v {
            self.0.insert(key.into(), Value::from(v));
        }
        self
    }

    pub fn b(mut self, key: &str, v: Option<bool>) -> Self {
        if let Some(v) = v {
            self.0.insert(key.into(), Value::Bool(v));
        }
        self
    }

    pub fn time(mut self, key: &str, v: &Option<aws_smithy_types::DateTime>) -> Self {
        if let Some(t) = v
            .as_ref()
            .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
        {
            self.0.insert(key.into(), Value::String(t));
        }
        self
    }

    pub fn obj(mut self, key: &str, v: Option<Value>) -> Self {
        if let Some(v) = v {
            self.0.insert(key.into(), v);
        }
        self
    }

    /// A list the service may leave out; left out here too.
    pub fn list<T>(mut self, key: &str, v: &Option<Vec<T>>, f: impl Fn(&T) -> Value) -> Self {
        if let Some(items) = v {
            self.0
                .insert(key.into(), Value::Array(items.iter().map(f).collect()));
        }
        self
    }

    /// A list that decides egress: always printed, `[]` when the service sent none.
    pub fn list_always<T>(
        mut self,
        key: &str,
        v: &Option<Vec<T>>,
        f: impl Fn(&T) -> Value,
    ) -> Self {
        let items = v.as_deref().unwrap_or_default();
        self.0
            .insert(key.into(), Value::Array(items.iter().map(f).collect()));
        self
    }

    pub fn done(self) -> Value {
        Value::Object(self.0)
    }
}

pub(crate) fn tag(t: &Tag) -> Value {
    Obj::new().s("Key", &t.key).s("Value", &t.value).done()
}

#[cfg(test)]
mod tests;
