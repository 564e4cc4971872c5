//! Bare `az network nsg rule list` output: the CLI prints one NSG's rules with no NSG around
//! them, so each rule is filed under the NSG its `id` names, and an NSG that no NSG listing holds
//! is built from those rules (and Azure's default rules) once every input is read. Kept apart from
//! the entry point because it is the only input that is assembled across documents.

use super::shape::{id_key, id_name};
use super::{nsg, shape, tie_warnings, AzureBundle};
use crate::model::Warning;
use crate::model::WarningKind;
use crate::normalize::DocContext;
use crate::normalize::NormalizeError;
use serde_json::Value;
use std::collections::BTreeSet;

/// The rules of one NSG, as `az network nsg rule list` printed them.
#[derive(Default, Debug)]
pub(super) struct RuleListing {
    nsg_id: String,
    account: Option<String>,
    region: Option<String>,
    source: String,
    /// Lower-cased rule ids already held (the same rule in two files is read once).
    seen: BTreeSet<String>,
    rules: Vec<Value>,
    defaults: Vec<Value>,
}

impl AzureBundle {
    /// Files one rule of `az network nsg rule list` output under the NSG its `id` names.
    pub(super) fn add_listed_rule(
        &mut self,
        item: &Value,
        ctx: &DocContext,
    ) -> Result<(), NormalizeError> {
        let name = shape::name_of(item, "security rule")?;
        let (parent, default) = shape::rule_parent(item).ok_or_else(|| {
            format!(
                "security rule {name}: field `id` does not name its network security \
                 group (`…/networkSecurityGroups/NSG/securityRules/RULE`), so the rule \
                 cannot be attributed to one"
            )
        })?;
        let default = default
            || item
                .get("type")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|t| t.to_ascii_lowercase().ends_with("/defaultsecurityrules"));
        // Validated now, so that a damaged rule names its file.
        nsg::parse_rule(item, id_name(parent), default)?;
        let listing = self
            .rule_listings
            .entry(id_key(parent))
            .or_insert_with(|| RuleListing {
                nsg_id: parent.to_string(),
                account: shape::subscription(parent).or_else(|| ctx.account.clone()),
                region: ctx.region.clone(),
                source: ctx.source.clone(),
                ..Default::default()
            });
        let rule_id = item.get("id").and_then(Value::as_str).unwrap_or(name);
        if listing.seen.insert(id_key(rule_id)) {
            if default {
                listing.defaults.push(item.clone());
            } else {
                listing.rules.push(item.clone());
            }
        }
        Ok(())
    }

    /// NSGs that only `az network nsg rule list` output shows: built from their rules (and Azure's
    /// default rules), with a warning that their attachments are not known. An NSG that an NSG
    /// listing holds is read from that listing, which has all of its rules.
    pub(super) fn nsgs_from_rule_listings(&mut self) {
        for (key, l) in std::mem::take(&mut self.rule_listings) {
            if self.nsgs.contains_key(&key) {
                continue;
            }
            let name = id_name(&l.nsg_id).to_string();
            let doc = serde_json::json!({
                "id": l.nsg_id,
                "name": name,
                "securityRules": l.rules,
                "defaultSecurityRules": l.defaults,
            });
            let mut n = match nsg::parse_nsg(&doc, l.account.as_deref()) {
                Ok(n) => n,
                // Every rule was validated when it was read; this is not expected.
                Err(e) => {
                    self.warnings.push(Warning {
                        kind: WarningKind::PartialData,
                        source: l.source.clone(),
                        message: format!("NSG {name} from a rule listing not read: {e}"),
                    });
                    continue;
                }
            };
            n.region = l.region.clone();
            self.warnings.push(Warning {
                kind: WarningKind::PartialData,
                source: l.nsg_id.clone(),
                message: format!(
                    "NSG {name} is known only from a rule listing (`az network nsg rule list`) in \
                     {}: it is evaluated with those rules and Azure's default rules, but the subnets \
                     and NICs it is attached to are not known (add `az network nsg list`)",
                    l.source
                ),
            });
            self.warnings.extend(tie_warnings(&n));
            self.nsgs.insert(key, n);
        }
    }
}
