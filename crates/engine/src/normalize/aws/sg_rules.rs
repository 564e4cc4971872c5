//! `aws ec2 describe-security-group-rules`: one object per rule (`SecurityGroupRuleId`, `GroupId`,
//! `IsEgress`, one destination of `CidrIpv4`, `CidrIpv6`, `PrefixListId`, `ReferencedGroupInfo`).
//! Its egress rules make up the group when `describe-security-groups` does not list it; when it
//! does, that listing already holds the same rules and wins (adding both would count each twice).

use super::parse::{
    description, owned_scope, DestKind, Destination, Permission, Scope, SecurityGroup,
};
use super::shapes::{parse_protocol, proto_ports};
use crate::normalize::fields::{list, opt_bool, opt_cidr, opt_int, opt_str, req_str as req};
use crate::normalize::NormalizeError;
use serde_json::Value;
use std::collections::BTreeMap;

/// Groups built from rule listings, by group id.
pub type RuleGroups = BTreeMap<String, SecurityGroup>;

pub fn add(v: &Value, scope: &Scope, groups: &mut RuleGroups) -> Result<(), NormalizeError> {
    for (i, r) in list(v, "SecurityGroupRules", "SecurityGroupRules")?
        .iter()
        .enumerate()
    {
        let id = req(
            r,
            "SecurityGroupRuleId",
            &format!("SecurityGroupRules[{i}]"),
        )?;
        let what = format!("security group rule {id}");
        let group = req(r, "GroupId", &what)?;
        let what = format!("security group {group}: rule {id}");
        let egress = opt_bool(r, "IsEgress", &what)?
            .ok_or_else(|| format!("{what} has no field `IsEgress`"))?;
        let owner = opt_str(r, "GroupOwnerId", &what)?;
        let sg = groups
            .entry(group.to_string())
            .or_insert_with(|| SecurityGroup {
                id: group.to_string(),
                name: None,
                vpc_id: None,
                scope: owned_scope(scope, owner, None),
                tags: BTreeMap::new(),
                egress: Vec::new(),
                egress_unknown: false,
                empty_permissions: Vec::new(),
            });
        if !egress {
            continue;
        }
        sg.egress.push(rule(r, id, owner, &what)?);
    }
    // Kept until `build`: without the spare capacity of their growth.
    for sg in groups.values_mut() {
        sg.egress.shrink_to_fit();
    }
    Ok(())
}

fn rule(
    r: &Value,
    id: &str,
    owner: Option<&str>,
    what: &str,
) -> Result<Permission, NormalizeError> {
    let raw = r
        .get("IpProtocol")
        .ok_or_else(|| format!("{what} has no field `IpProtocol`"))?;
    let proto = parse_protocol(raw, "IpProtocol", what)?;
    let pp = proto_ports(
        proto,
        opt_int(r, "FromPort", what)?,
        opt_int(r, "ToPort", what)?,
        ("FromPort", "ToPort"),
        what,
    )?;
    let description = description(r, what)?;
    let (kind, text) = if let Some((text, _)) = opt_cidr(r, "CidrIpv4", false, what)? {
        (DestKind::Cidr, text)
    } else if let Some((text, _)) = opt_cidr(r, "CidrIpv6", true, what)? {
        (DestKind::Cidr, text)
    } else if let Some(pl) = opt_str(r, "PrefixListId", what)? {
        (DestKind::PrefixList, pl.to_string())
    } else {
        match r.get("ReferencedGroupInfo") {
            Some(g) if !g.is_null() => {
                let w = format!("{what}: ReferencedGroupInfo");
                let group = req(g, "GroupId", &w)?;
                let text = match opt_str(g, "UserId", &w)? {
                    Some(user) if owner.is_some_and(|o| o != user) => format!("{user}/{group}"),
                    _ => group.to_string(),
                };
                (DestKind::Group, text)
            }
            _ => {
                return Err(format!(
                    "{what} has no destination (`CidrIpv4`, `CidrIpv6`, `PrefixListId` or \
                     `ReferencedGroupInfo`)"
                )
                .into())
            }
        }
    };
    Ok(Permission {
        pp,
        dests: Box::new([Destination {
            kind,
            text: text.into(),
            description,
        }]),
        rule_id: Some(id.into()),
    })
}
