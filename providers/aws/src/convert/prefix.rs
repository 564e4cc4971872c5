//! `describe-managed-prefix-lists` and `get-managed-prefix-list-entries`.

use super::{tag, Obj};
use aws_sdk_ec2::types::{ManagedPrefixList, PrefixListEntry};
use serde_json::Value;

pub fn managed_prefix_list(p: &ManagedPrefixList) -> Value {
    Obj::new()
        .s("PrefixListId", &p.prefix_list_id)
        .s("PrefixListName", &p.prefix_list_name)
        .s("PrefixListArn", &p.prefix_list_arn)
        .s("AddressFamily", &p.address_family)
        .e("State", &p.state)
        .s("StateMessage", &p.state_message)
        .i("MaxEntries", p.max_entries)
        .i64("Version", p.version)
        .s("OwnerId", &p.owner_id)
        .list("Tags", &p.tags, tag)
        .done()
}

pub fn prefix_list_entry(e: &PrefixListEntry) -> Value {
    Obj::new()
        .s("Cidr", &e.cidr)
        .s("Description", &e.description)
        .done()
}
