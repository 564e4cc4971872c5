//! Microsoft's published service tags (`ServiceTags_Public_YYYYMMDD.json`, or
//! `az network list-service-tags --location X`): tag name → address prefixes.

use crate::model::space::parse_addrs;
use crate::model::AddrSet;
use crate::normalize::NormalizeError;
use serde_json::Value;
use std::collections::BTreeMap;

/// Microsoft's published service tags: tag name → address prefixes.
#[derive(Clone, Debug, Default)]
pub struct ServiceTags {
    pub tags: BTreeMap<String, Vec<String>>,
}

impl ServiceTags {
    /// Loads Microsoft's service-tags JSON (`{"values": [{"name", "properties": {"addressPrefixes"}}]}`).
    pub fn load(path: &std::path::Path) -> anyhow::Result<ServiceTags> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: cannot read service tags: {e}", path.display()))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}: service tags file is not valid JSON: {e}",
                path.display()
            )
        })?;
        Self::from_value(&value).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Reads the parsed file; every prefix must be an address or CIDR block.
    pub fn from_value(value: &Value) -> Result<ServiceTags, NormalizeError> {
        const SHAPE: &str = "expected Microsoft's service tags JSON \
            ({\"values\": [{\"name\": \"Storage.WestEurope\", \"properties\": {\"addressPrefixes\": [...]}}]})";
        let values = value
            .get("values")
            .ok_or_else(|| format!("service tags file has no field `values`; {SHAPE}"))?
            .as_array()
            .ok_or_else(|| format!("service tags field `values` is not an array; {SHAPE}"))?;
        let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, v) in values.iter().enumerate() {
            let name = v
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("service tag `values[{i}]` has no string field `name`"))?;
            let prefixes = v
                .get("properties")
                .and_then(|p| p.get("addressPrefixes"))
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    format!("service tag {name}: no array field `properties.addressPrefixes`")
                })?;
            let mut list = Vec::with_capacity(prefixes.len());
            for p in prefixes {
                let s = p.as_str().ok_or_else(|| {
                    format!("service tag {name}: `properties.addressPrefixes` holds a non-string")
                })?;
                parse_addrs(s).map_err(|e| {
                    format!("service tag {name}: field `properties.addressPrefixes`: {e}")
                })?;
                list.push(s.to_string());
            }
            tags.entry(name.to_string()).or_default().extend(list);
        }
        Ok(ServiceTags { tags })
    }

    /// The prefixes of a tag, by name compared case-insensitively (NSG rules write `Storage`,
    /// `storage`, `Sql.WestEurope`).
    pub fn resolve(&self, tag: &str) -> Option<AddrSet> {
        let prefixes = self.tags.get(tag).or_else(|| {
            self.tags
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                .map(|(_, v)| v)
        })?;
        let mut set = AddrSet::empty();
        for p in prefixes {
            // Validated on load; a hand-built map may hold junk, which resolves to nothing.
            if let Ok(a) = parse_addrs(p) {
                set = set.union(&a);
            }
        }
        Some(set)
    }

    /// Adds another file's tags (a later file's prefixes for the same name are added, not replaced).
    pub fn merge(&mut self, other: &ServiceTags) {
        for (k, v) in &other.tags {
            self.tags
                .entry(k.clone())
                .or_default()
                .extend(v.iter().cloned());
        }
    }
}
