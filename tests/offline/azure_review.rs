//! Azure review: real-shaped exports that were mis-read before, with exact outcomes.
//!
//! - `az network nsg show` / `nic show` / `vm show` and a REST GET print ONE object, not a list;
//! - `az network nsg rule list [--include-default]` prints bare rules: each belongs to the NSG its
//!   `id` names; an NSG known only from such a listing is evaluated with a `partial-data` warning;
//! - a rule whose sources are all IPv4 blocks decides IPv4 only (a packet's source and destination
//!   share a family), so it never blocks a dual-stack NIC's IPv6;
//! - a VM whose NICs are missing is reported, never dropped silently;
//! - NSG ids compared case-insensitively, NIC + subnet NSG both applied, user `DenyAllOutbound`
//!   at 4096, `0.0.0.0/0` = IPv4 only, `Esp` / `Ah` are not tcp/udp, service tags and ASGs.

use egress_audit::normalize::{DocContext, Loader, Options};
use serde_json::{json, Value};
use std::path::PathBuf;

use crate::azure;
use crate::inputs;
use azure::{evidence, find, load_docs, pairs, short};
use inputs::check as findings;

fn estate() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/azure/review/estate")
}

const SUB: &str = "/subscriptions/7d2f1a60-5b3c-4e21-9c0d-2a4b6c8e0f11/resourceGroups/rg-app/providers/Microsoft.Network";

fn with(ids: &[&str], checks: &[&str]) -> Vec<String> {
    ids.iter()
        .flat_map(|r| checks.iter().map(move |c| format!("{c} {r}")))
        .collect()
}

#[test]
fn review_estate_gives_exact_findings() {
    let mut loader = Loader::default();
    loader.add_path(&estate()).unwrap();
    let inv = loader.build(&Options::default());
    let f = findings(
        &inv,
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009",
            "EG013",
        ],
    );

    // Targets: the three NICs, and the NSGs no NIC uses (nsg-ipsec from the list, nsg-lonely
    // from the rule listing, nsg-shown from `nsg show`). nsg-nic-web, nsg-subnet-app and nsg-dual
    // are evaluated as layers of their NICs.
    let mut targets: Vec<String> = inv
        .targets
        .iter()
        .map(|t| format!("{} {}", t.resource_kind, short(&t.resource_id)))
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        [
            "nic nic-dual",
            "nic nic-open",
            "nic nic-web",
            "nsg nsg-ipsec",
            "nsg nsg-lonely",
            "nsg nsg-shown"
        ]
    );

    let all_open = [
        "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
    ];
    let mut want = with(&["nic-open", "nic-dual"], &all_open);
    // nsg-lonely denies tcp/445 (priority 100), then AllowInternetOutBound lets everything else out.
    want.extend(with(
        &["nsg-lonely"],
        &[
            "EG001", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    ));
    // nic-web: its NSG and its subnet's both allow only tcp/443 to Internet.
    want.extend(with(&["nic-web"], &["EG008", "EG009"]));
    // nsg-shown: tcp/23 to 0.0.0.0/0, then its own DenyAllOutbound at 4096.
    want.extend(with(&["nsg-shown"], &["EG003", "EG009"]));
    want.sort();
    assert_eq!(pairs(&f), want);

    // No NSG on the NIC nor on its subnet: no filter, said so.
    let open = find(&f, "EG001", "nic-open");
    assert_eq!(
        open.message,
        "tcp is allowed to 100% of public IPv4; udp is allowed to 100% of public IPv4"
    );
    assert!(open.evidence[0].name.ends_with(
        "/networkInterfaces/nic-open (no filter: no security group, NSG or firewall applies)"
    ));

    // nic-dual: `deny-v4-from-subnet` (source 10.1.2.0/24, destination *) blocks its IPv4 only;
    // its IPv6 configuration reaches the internet through AllowInternetOutBound.
    let dual = find(&f, "EG001", "nic-dual");
    assert_eq!(
        dual.message,
        "tcp is allowed to 100% of public IPv6; udp is allowed to 100% of public IPv6"
    );
    assert_eq!(
        evidence(dual),
        ["nsg-dual/AllowInternetOutBound allow all all Internet"]
    );
    assert_eq!(
        find(&f, "EG002", "nic-dual").message,
        "tcp/445 is allowed to 100% of public IPv6"
    );

    // nic-web: both NSGs decide (the NIC's NSG id is written in other casing than the listing's).
    let web = find(&f, "EG009", "nic-web");
    assert!(
        web.message
            .starts_with("tcp/443 is allowed to 100% of public IPv4"),
        "{}",
        web.message
    );
    assert_eq!(
        evidence(web),
        [
            "nsg-nic-web/allow-https allow tcp 443 Internet",
            "nsg-subnet-app/allow-https allow tcp 443 Internet"
        ]
    );

    // `0.0.0.0/0` is IPv4 only.
    let shown = find(&f, "EG003", "nsg-shown");
    assert_eq!(shown.message, "tcp/23 is allowed to 100% of public IPv4");
    assert_eq!(
        evidence(shown),
        ["nsg-shown/allow-telnet allow tcp 23 0.0.0.0/0"]
    );

    // The rule listing's NSG: the default rule decides, and tcp/445 is not among the findings.
    assert_eq!(
        evidence(find(&f, "EG001", "nsg-lonely")),
        ["nsg-lonely/AllowInternetOutBound allow all all Internet"]
    );
    assert_eq!(
        find(&f, "EG001", "nsg-lonely").account.as_deref(),
        Some("7d2f1a60-5b3c-4e21-9c0d-2a4b6c8e0f11")
    );

    let mut warnings: Vec<String> = inv
        .warnings
        .iter()
        .map(|w| format!("{} {} {}", w.kind, short(&w.source), w.message))
        .collect();
    warnings.sort();
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    assert!(warnings[0].starts_with(
        "partial-data nsg-lonely NSG nsg-lonely is known only from a rule listing (`az network nsg rule list`) in "
    ));
    assert!(warnings[0].contains("nsg-rule-list.json"));
    assert_eq!(
        warnings[1],
        "partial-data vm-ghost VM vm-ghost: network interface(s) nic-ghost are not in the inputs \
         (add `az network nic list`), so the VM's egress through them is not evaluated (an NSG \
         that no NIC of the inputs uses is evaluated on its own)"
    );
    assert!(warnings[2].starts_with(
        "unresolved-destination nsg-subnet-app NSG nsg-subnet-app rule allow-storage (priority 110): \
         service tag `Storage.WestEurope` is not resolved"
    ));
}

fn rest_rule(
    nsg: &str,
    name: &str,
    priority: i64,
    access: &str,
    proto: &str,
    dst: &str,
    port: &str,
) -> Value {
    json!({
        "name": name,
        "id": format!("{SUB}/networkSecurityGroups/{nsg}/securityRules/{name}"),
        "etag": "W/\"00000000-0000-0000-0000-000000000000\"",
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "properties": {
            "provisioningState": "Succeeded", "protocol": proto, "sourcePortRange": "*",
            "destinationPortRange": port, "sourceAddressPrefix": "*",
            "destinationAddressPrefix": dst, "access": access, "priority": priority,
            "direction": "Outbound", "sourcePortRanges": [], "destinationPortRanges": [],
            "sourceAddressPrefixes": [], "destinationAddressPrefixes": []
        }
    })
}

#[test]
fn rest_get_of_one_nsg_and_rest_rule_listing_are_read() {
    // GET …/networkSecurityGroups/nsg-rest (one object, fields under `properties`).
    let one = json!({
        "name": "nsg-rest",
        "id": format!("{SUB}/networkSecurityGroups/nsg-rest"),
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "westeurope",
        "properties": {
            "securityRules": [rest_rule("nsg-rest", "allow-smb", 300, "Allow", "Tcp", "Internet", "445")],
            "defaultSecurityRules": []
        }
    });
    // GET …/networkSecurityGroups/nsg-rules/securityRules: a REST page of bare rules.
    let page = json!({"value": [
        rest_rule("nsg-rules", "deny-ftp", 100, "Deny", "Tcp", "*", "20-21"),
        rest_rule("nsg-rules", "allow-web", 200, "Allow", "Tcp", "Internet", "80"),
        rest_rule("nsg-rules", "deny-rest", 4096, "Deny", "*", "*", "*")
    ]});
    let inv = load_docs(vec![one, page]);
    let f = findings(
        &inv,
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009",
            "EG013",
        ],
    );
    assert_eq!(
        pairs(&f),
        [
            "EG001 nsg-rest",
            "EG002 nsg-rest",
            "EG003 nsg-rest",
            "EG004 nsg-rest",
            "EG005 nsg-rest",
            "EG006 nsg-rest",
            "EG007 nsg-rest",
            "EG008 nsg-rest",
            "EG009 nsg-rules",
            "EG013 nsg-rest"
        ]
    );
    assert_eq!(
        evidence(find(&f, "EG002", "nsg-rest")),
        ["nsg-rest/allow-smb allow tcp 445 Internet"]
    );
    assert_eq!(
        evidence(find(&f, "EG009", "nsg-rules")),
        ["nsg-rules/allow-web allow tcp 80 Internet"]
    );
    assert_eq!(inv.warnings.len(), 1, "{:?}", inv.warnings);
    assert_eq!(inv.warnings[0].kind, "partial-data");
    assert!(inv.warnings[0]
        .message
        .starts_with("NSG nsg-rules is known only from a rule listing"));
}

#[test]
fn an_nsg_listing_wins_over_a_rule_listing_of_the_same_nsg() {
    // `az network nsg list` has the NSG with its rules; a rule listing of it (other casing in the
    // id) adds nothing and warns of nothing.
    let nsg = json!([{
        "name": "nsg-x", "id": format!("{SUB}/networkSecurityGroups/nsg-x"),
        "type": "Microsoft.Network/networkSecurityGroups", "location": "westeurope",
        "securityRules": [{
            "name": "deny-all", "priority": 4096, "access": "Deny", "direction": "Outbound",
            "protocol": "*", "destinationAddressPrefix": "*", "destinationAddressPrefixes": [],
            "destinationPortRange": "*", "destinationPortRanges": [], "sourceAddressPrefix": "*",
            "sourceAddressPrefixes": [], "sourcePortRange": "*", "sourcePortRanges": []
        }]
    }]);
    let mut r = rest_rule("NSG-X", "allow-all", 100, "Allow", "*", "*", "*");
    r["id"] = json!(r["id"].as_str().unwrap().to_uppercase());
    let inv = load_docs(vec![json!({"value": [r]}), nsg]);
    assert_eq!(inv.targets.len(), 1);
    assert!(findings(&inv, inputs::EVERY).is_empty());
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
}

#[test]
fn a_rule_that_names_no_nsg_is_an_input_error() {
    let mut loader = Loader::default();
    let ctx = DocContext {
        source: "rules.json".into(),
        ..Default::default()
    };
    // `az network nsg rule list` piped through a `--query` that dropped the ids.
    let err = loader
        .add_value(
            json!([{"name": "r1", "direction": "Outbound", "access": "Allow", "priority": 100,
                     "protocol": "Tcp", "destinationAddressPrefix": "*", "destinationPortRange": "445"}]),
            &ctx,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("rules.json"), "{err}");
    assert!(
        err.contains(
            "item [0]: security rule r1: field `id` does not name its network security group"
        ),
        "{err}"
    );
    // A damaged rule in a listing names the NSG, the rule and the field.
    let mut bad = rest_rule("nsg-y", "odd", 100, "Allow", "Tcp", "*", "445");
    bad["properties"]["direction"] = json!("Sideways");
    let err = loader
        .add_value(json!({"value": [bad]}), &ctx)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "NSG nsg-y rule odd: field `direction` is \"Sideways\", not Inbound or Outbound"
        ),
        "{err}"
    );
}

#[test]
fn ipv4_source_rules_decide_ipv4_only() {
    // An NSG on its own: `deny-internal-v4` (source 10.0.0.0/8, every destination) cannot match
    // IPv6 packets, so the IPv6 internet stays open through AllowInternetOutBound. A rule whose
    // only source is `Internet` decides no egress at all.
    let rule = |name: &str, priority: i64, access: &str, src: &str| {
        json!({"name": name, "priority": priority, "access": access, "direction": "Outbound",
               "protocol": "*", "destinationAddressPrefix": "*", "destinationAddressPrefixes": [],
               "destinationPortRange": "*", "destinationPortRanges": [], "sourceAddressPrefix": src,
               "sourceAddressPrefixes": [], "sourcePortRange": "*", "sourcePortRanges": []})
    };
    let inv = load_docs(vec![json!([{
        "name": "nsg-fam", "id": format!("{SUB}/networkSecurityGroups/nsg-fam"),
        "type": "Microsoft.Network/networkSecurityGroups",
        "securityRules": [
            rule("deny-from-internet", 100, "Deny", "Internet"),
            rule("deny-internal-v4", 200, "Deny", "10.0.0.0/8"),
        ]
    }])]);
    let f = findings(&inv, &["EG001"]);
    let eg1 = find(&f, "EG001", "nsg-fam");
    assert_eq!(
        eg1.message,
        "tcp is allowed to 100% of public IPv6; udp is allowed to 100% of public IPv6"
    );
    assert_eq!(
        evidence(eg1),
        ["nsg-fam/AllowInternetOutBound allow all all Internet"]
    );
    // Both source families listed: the deny covers both.
    let inv = load_docs(vec![json!([{
        "name": "nsg-both", "id": format!("{SUB}/networkSecurityGroups/nsg-both"),
        "type": "Microsoft.Network/networkSecurityGroups",
        "securityRules": [{
            "name": "deny-both", "priority": 200, "access": "Deny", "direction": "Outbound",
            "protocol": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*",
            "sourceAddressPrefix": "", "sourceAddressPrefixes": ["10.0.0.0/8", "fd00::/8"]
        }]
    }])]);
    assert!(
        findings(&inv, &["EG001"]).is_empty(),
        "{:?}",
        pairs(&findings(&inv, &["EG001"]))
    );
}

#[test]
fn az_vm_show_and_nic_show_objects_are_read() {
    let nic = json!({
        "name": "nic-one", "id": format!("{SUB}/networkInterfaces/nic-one"),
        "type": "Microsoft.Network/networkInterfaces", "location": "westeurope",
        "macAddress": "00-0D-3A-00-00-09", "networkSecurityGroup": null,
        "ipConfigurations": [{"name": "ipconfig1", "primary": true, "privateIPAddress": "10.9.0.4",
            "privateIPAddressVersion": "IPv4",
            "subnet": {"id": format!("{SUB}/virtualNetworks/v/subnets/s"), "resourceGroup": "rg-app"}}],
        "virtualMachine": {"id": "/subscriptions/7d2f1a60-5b3c-4e21-9c0d-2a4b6c8e0f11/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-one"}
    });
    let vm = json!({
        "name": "vm-one",
        "id": "/subscriptions/7d2f1a60-5b3c-4e21-9c0d-2a4b6c8e0f11/resourceGroups/RG-APP/providers/Microsoft.Compute/virtualMachines/vm-one",
        "type": "Microsoft.Compute/virtualMachines", "location": "westeurope",
        "tags": {"env": "prod"},
        "hardwareProfile": {"vmSize": "Standard_B1s"},
        "networkProfile": {"networkInterfaces": [{"id": format!("{SUB}/networkInterfaces/NIC-ONE"), "primary": true}]}
    });
    let subnet = json!({"name": "s", "id": format!("{SUB}/virtualNetworks/v/subnets/s"),
        "type": "Microsoft.Network/virtualNetworks/subnets", "addressPrefix": "10.9.0.0/24",
        "networkSecurityGroup": null});
    let inv = load_docs(vec![nic, vm, subnet]);
    assert_eq!(inv.targets.len(), 1);
    let t = &inv.targets[0];
    assert_eq!(short(&t.resource_id), "nic-one");
    assert_eq!(t.labels.get("env").map(String::as_str), Some("prod"));
    assert!(t.chains.is_empty());
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    let f = findings(&inv, &["EG001"]);
    assert!(pairs(&f).contains(&"EG001 nic-one".to_string()));
}

fn vmss_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/azure/review/vmss")
}

#[test]
fn uniform_scale_set_is_evaluated_through_its_model() {
    // `az vmss list`: a Uniform scale set's instance NICs are in no `az network nic list`, so its
    // model's NIC configuration (NSG nsg-workers, subnet workers without NSG) is the target.
    // The SDK-cased `privateIpAddressVersion: IPv4` limits it to IPv4.
    let mut loader = Loader::default();
    loader.add_path(&vmss_dir()).unwrap();
    let inv = loader.build(&Options::default());
    assert_eq!(inv.targets.len(), 1);
    let t = &inv.targets[0];
    assert_eq!(t.resource_kind, "vmss");
    assert_eq!(short(&t.resource_id), "vmss-workers");
    assert_eq!(t.labels.get("role").map(String::as_str), Some("worker"));
    assert_eq!(t.chains.len(), 1);
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    let f = findings(&inv, &["EG009", "EG013"]);
    assert_eq!(pairs(&f), ["EG009 vmss-workers", "EG013 vmss-workers"]);
    let eg13 = find(&f, "EG013", "vmss-workers");
    assert_eq!(eg13.message, "tcp/25 is allowed to 100% of public IPv4");
    assert_eq!(
        evidence(eg13),
        ["nsg-workers/allow-smtp allow tcp 25 Internet"]
    );

    // With the instances' NICs (`az vmss nic list`), those are the targets instead.
    let mut loader = Loader::default();
    loader.add_path(&vmss_dir()).unwrap();
    let inst = |i: u32| {
        json!({
            "name": "vmss-workers-nic",
            "id": format!("/subscriptions/7d2f1a60-5b3c-4e21-9c0d-2a4b6c8e0f11/resourceGroups/rg-batch/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-workers/virtualMachines/{i}/networkInterfaces/vmss-workers-nic"),
            "type": "Microsoft.Network/networkInterfaces", "location": "westeurope",
            "macAddress": "00-0D-3A-00-00-1{i}", "enableIPForwarding": false,
            "networkSecurityGroup": {"id": "/subscriptions/7d2f1a60-5b3c-4e21-9c0d-2a4b6c8e0f11/resourceGroups/rg-batch/providers/Microsoft.Network/networkSecurityGroups/nsg-workers"},
            "ipConfigurations": [{"name": "vmss-workers-ipconfig", "primary": true,
                "privateIPAddress": format!("10.20.1.{}", 4 + i), "privateIPAddressVersion": "IPv4",
                "subnet": {"id": "/subscriptions/7d2f1a60-5b3c-4e21-9c0d-2a4b6c8e0f11/resourceGroups/rg-batch/providers/Microsoft.Network/virtualNetworks/vnet-batch/subnets/workers"}}],
            "virtualMachine": {"id": format!("/subscriptions/7d2f1a60-5b3c-4e21-9c0d-2a4b6c8e0f11/resourceGroups/rg-batch/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-workers/virtualMachines/{i}")}
        })
    };
    loader
        .add_value(json!([inst(0), inst(1)]), &DocContext::default())
        .unwrap();
    let inv = loader.build(&Options::default());
    let mut kinds: Vec<String> = inv
        .targets
        .iter()
        .map(|t| {
            format!(
                "{} {}",
                t.resource_kind,
                t.resource_id.rsplit("/virtualMachines/").next().unwrap()
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "nic 0/networkInterfaces/vmss-workers-nic",
            "nic 1/networkInterfaces/vmss-workers-nic"
        ]
    );
    assert_eq!(findings(&inv, &["EG009", "EG013"]).len(), 4);
}

#[test]
fn sdk_cased_nic_fields_are_read() {
    // `az network nic list` before the CLI moved to raw ARM JSON printed the SDK's attribute
    // names camel-cased: `privateIpAddress`, `privateIpAddressVersion`, `enableIpForwarding`.
    let nic = json!([{
        "name": "nic-old", "id": format!("{SUB}/networkInterfaces/nic-old"),
        "type": "Microsoft.Network/networkInterfaces", "location": "westeurope",
        "macAddress": "00-0D-3A-00-00-20", "enableIpForwarding": false,
        "networkSecurityGroup": {"id": format!("{SUB}/networkSecurityGroups/nsg-old")},
        "ipConfigurations": [{"name": "ipconfig1", "primary": true,
            "privateIpAddress": "10.30.0.4", "privateIpAddressVersion": "IPv4",
            "privateIpAllocationMethod": "Dynamic",
            "subnet": {"id": format!("{SUB}/virtualNetworks/v/subnets/s")}}]
    }]);
    let nsg = json!([{
        "name": "nsg-old", "id": format!("{SUB}/networkSecurityGroups/nsg-old"),
        "type": "Microsoft.Network/networkSecurityGroups",
        "securityRules": [{
            // Only from 10.99.0.0/16: not this NIC (10.30.0.4), so it does not apply to it.
            "name": "allow-rdp-from-admin", "priority": 100, "access": "Allow", "direction": "Outbound",
            "protocol": "Tcp", "destinationAddressPrefix": "Internet", "destinationPortRange": "3389",
            "sourceAddressPrefix": "10.99.0.0/16"
        }, {
            "name": "deny-internet", "priority": 200, "access": "Deny", "direction": "Outbound",
            "protocol": "*", "destinationAddressPrefix": "Internet", "destinationPortRange": "*",
            "sourceAddressPrefix": "*"
        }]
    }]);
    let subnet = json!([{"name": "s", "id": format!("{SUB}/virtualNetworks/v/subnets/s"),
        "type": "Microsoft.Network/virtualNetworks/subnets", "addressPrefix": "10.30.0.0/24"}]);
    let inv = load_docs(vec![nic, nsg, subnet]);
    assert_eq!(inv.targets.len(), 1);
    let t = &inv.targets[0];
    assert!(
        t.address_limit.is_some(),
        "the IPv4-only NIC is limited to IPv4"
    );
    assert!(
        findings(&inv, inputs::EVERY).is_empty(),
        "{:?}",
        pairs(&findings(&inv, inputs::EVERY))
    );
}

#[test]
fn forced_route_to_an_sdk_cased_azure_firewall_is_noted() {
    // `az network firewall list` (an extension on the Python SDK) prints `privateIpAddress`; the
    // subnet's route table sends 0.0.0.0/0 to it. Findings keep their severity, with a note.
    let fw = json!([{
        "name": "fw-hub", "id": format!("{SUB}/azureFirewalls/fw-hub"),
        "type": "Microsoft.Network/azureFirewalls", "location": "westeurope",
        "threatIntelMode": "Alert",
        "ipConfigurations": [{"name": "fw-ipconfig", "privateIpAddress": "10.40.255.4",
            "subnet": {"id": format!("{SUB}/virtualNetworks/hub/subnets/AzureFirewallSubnet")}}]
    }]);
    let rt = json!([{
        "name": "rt-spoke", "id": format!("{SUB}/routeTables/rt-spoke"),
        "type": "Microsoft.Network/routeTables", "location": "westeurope",
        "disableBgpRoutePropagation": true,
        "routes": [{"name": "default-to-fw", "addressPrefix": "0.0.0.0/0",
            "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.40.255.4"}],
        "subnets": [{"id": format!("{SUB}/virtualNetworks/spoke/subnets/app")}]
    }]);
    let nsg = json!([{
        "name": "nsg-spoke", "id": format!("{SUB}/networkSecurityGroups/nsg-spoke"),
        "type": "Microsoft.Network/networkSecurityGroups",
        "securityRules": [{"name": "allow-smb", "priority": 100, "access": "Allow",
            "direction": "Outbound", "protocol": "Tcp", "destinationAddressPrefix": "0.0.0.0/0",
            "destinationPortRange": "445", "sourceAddressPrefix": "*"},
            {"name": "deny-rest", "priority": 4096, "access": "Deny",
            "direction": "Outbound", "protocol": "*", "destinationAddressPrefix": "*",
            "destinationPortRange": "*", "sourceAddressPrefix": "*"}]
    }]);
    let vnet = json!([{
        "name": "spoke", "id": format!("{SUB}/virtualNetworks/spoke"),
        "type": "Microsoft.Network/virtualNetworks", "addressSpace": {"addressPrefixes": ["10.41.0.0/16"]},
        "subnets": [{"name": "app", "id": format!("{SUB}/virtualNetworks/spoke/subnets/app"),
            "addressPrefix": "10.41.1.0/24",
            "networkSecurityGroup": {"id": format!("{SUB}/networkSecurityGroups/nsg-spoke")},
            "routeTable": {"id": format!("{SUB}/routeTables/RT-SPOKE")}}]
    }]);
    let nic = json!([{
        "name": "nic-spoke", "id": format!("{SUB}/networkInterfaces/nic-spoke"),
        "type": "Microsoft.Network/networkInterfaces", "macAddress": "00-0D-3A-00-00-30",
        "ipConfigurations": [{"name": "ipconfig1", "primary": true, "privateIPAddress": "10.41.1.4",
            "privateIPAddressVersion": "IPv4",
            "subnet": {"id": format!("{SUB}/virtualNetworks/spoke/subnets/app")}}]
    }]);
    let inv = load_docs(vec![fw, rt, nsg, vnet, nic]);
    let f = findings(&inv, &["EG002", "EG009"]);
    assert_eq!(pairs(&f), ["EG002 nic-spoke", "EG009 nic-spoke"]);
    let smb = find(&f, "EG002", "nic-spoke");
    assert_eq!(format!("{:?}", smb.severity), "High");
    assert_eq!(
        evidence(smb),
        ["nsg-spoke/allow-smb allow tcp 445 0.0.0.0/0"]
    );
    assert!(
        smb.notes.iter().any(|n| n
            == "egress passes an appliance: route 0.0.0.0/0 → VirtualAppliance 10.40.255.4 (rt-spoke, Azure Firewall fw-hub)"),
        "{:?}",
        smb.notes
    );
}

#[test]
fn an_nsg_without_its_rules_is_not_evaluated_by_guessing() {
    // `az resource list --resource-type Microsoft.Network/networkSecurityGroups` prints the NSGs
    // with `"properties": null`: their rules are unknown. Not evaluated, and said so; the NIC that
    // uses one is not evaluated either.
    let nsgs = json!([{
        "changedTime": "2026-11-02T10:00:00+00:00", "createdTime": "2026-01-01T10:00:00+00:00",
        "extendedLocation": null, "id": format!("{SUB}/networkSecurityGroups/nsg-summary"),
        "identity": null, "kind": null, "location": "westeurope", "managedBy": null,
        "name": "nsg-summary", "plan": null, "properties": null, "provisioningState": "Succeeded",
        "resourceGroup": "rg-app", "sku": null, "tags": {},
        "type": "Microsoft.Network/networkSecurityGroups"
    }]);
    let nic = json!([{
        "name": "nic-s", "id": format!("{SUB}/networkInterfaces/nic-s"),
        "type": "Microsoft.Network/networkInterfaces", "macAddress": "00-0D-3A-00-00-40",
        "networkSecurityGroup": {"id": format!("{SUB}/networkSecurityGroups/nsg-summary")},
        "ipConfigurations": [{"name": "ipconfig1", "primary": true, "privateIPAddress": "10.50.0.4",
            "subnet": {"id": format!("{SUB}/virtualNetworks/v/subnets/s")}}]
    }]);
    let subnet = json!([{"name": "s", "id": format!("{SUB}/virtualNetworks/v/subnets/s"),
        "type": "Microsoft.Network/virtualNetworks/subnets", "addressPrefix": "10.50.0.0/24"}]);
    let inv = load_docs(vec![nsgs, nic, subnet]);
    assert!(inv.targets.is_empty());
    let mut w: Vec<String> = inv
        .warnings
        .iter()
        .map(|w| format!("{} {} {}", w.kind, short(&w.source), w.message))
        .collect();
    w.sort();
    assert_eq!(
        w,
        [
            "partial-data nic-s NIC nic-s: its NSG nsg-summary is not in the inputs (add `az network nsg list`); it is not evaluated",
            "partial-data nsg-summary NSG nsg-summary: the export has no `securityRules` field (a summary listing such as `az resource list`?), so its rules are unknown and it is not evaluated; export it with `az network nsg list`"
        ]
    );
}

#[test]
fn rest_scale_sets_uniform_dual_stack_and_flexible() {
    let cmp = "/subscriptions/7d2f1a60-5b3c-4e21-9c0d-2a4b6c8e0f11/resourceGroups/rg-app/providers/Microsoft.Compute";
    let ss = |name: &str, mode: &str, v6: bool| {
        let mut ips = vec![json!({"name": "v4", "properties": {"primary": true,
            "subnet": {"id": format!("{SUB}/virtualNetworks/v/subnets/s")}}})];
        if v6 {
            ips.push(
                json!({"name": "v6", "properties": {"privateIPAddressVersion": "IPv6",
                "subnet": {"id": format!("{SUB}/virtualNetworks/v/subnets/s")}}}),
            );
        }
        json!({"name": name, "id": format!("{cmp}/virtualMachineScaleSets/{name}"),
            "type": "Microsoft.Compute/virtualMachineScaleSets", "location": "westeurope",
            "properties": {"orchestrationMode": mode, "virtualMachineProfile": {"networkProfile": {
                "networkInterfaceConfigurations": [{"name": "nic", "properties": {"primary": true,
                    "networkSecurityGroup": {"id": format!("{SUB}/networkSecurityGroups/nsg-ss")},
                    "ipConfigurations": ips}}]}}}})
    };
    let nsg = json!({"value": [{"name": "nsg-ss", "id": format!("{SUB}/networkSecurityGroups/nsg-ss"),
        "type": "Microsoft.Network/networkSecurityGroups",
        "properties": {"securityRules": [{"name": "deny-v4", "properties": {"priority": 100,
            "direction": "Outbound", "access": "Deny", "protocol": "*", "sourceAddressPrefix": "*",
            "destinationAddressPrefix": "0.0.0.0/0", "destinationPortRange": "*"}}]}}]});
    let subnet = json!({"value": [{"name": "s", "id": format!("{SUB}/virtualNetworks/v/subnets/s"),
        "type": "Microsoft.Network/virtualNetworks/subnets", "properties": {"addressPrefix": "10.60.0.0/24"}}]});
    let inv = load_docs(vec![
        json!({"value": [ss("ss-v4", "Uniform", false), ss("ss-dual", "Uniform", true), ss("ss-flex", "Flexible", true)]}),
        nsg,
        subnet,
    ]);
    let mut names: Vec<String> = inv
        .targets
        .iter()
        .map(|t| format!("{} {}", t.resource_kind, short(&t.resource_id)))
        .collect();
    names.sort();
    assert_eq!(names, ["vmss ss-dual", "vmss ss-v4"]);
    // 0.0.0.0/0 is denied; only the dual-stack scale set sends IPv6, which the default rule allows.
    let f = findings(&inv, &["EG001"]);
    assert!(
        f.iter().all(|x| short(&x.resource_id) == "ss-dual"),
        "{:?}",
        pairs(&f)
    );
    assert_eq!(
        find(&f, "EG001", "ss-dual").message,
        "tcp is allowed to 100% of public IPv6; udp is allowed to 100% of public IPv6"
    );
}

#[test]
fn resource_graph_results_are_read() {
    // `az graph query -q "Resources | where type =~ 'microsoft.network/networksecuritygroups'"`:
    // rows in the REST shape, `type` lower-cased, under `data`; a `skip_token` means more pages.
    let row = json!({
        "id": format!("{SUB}/networkSecurityGroups/nsg-arg"), "name": "nsg-arg",
        "type": "microsoft.network/networksecuritygroups", "tenantId": "72f988bf-0000-0000-0000-000000000000",
        "kind": "", "location": "westeurope", "resourceGroup": "rg-app",
        "subscriptionId": "7d2f1a60-5b3c-4e21-9c0d-2a4b6c8e0f11", "managedBy": "", "sku": null,
        "plan": null, "tags": null, "identity": null, "zones": null, "extendedLocation": null,
        "properties": {"provisioningState": "Succeeded", "resourceGuid": "1",
            "securityRules": [{"name": "allow-telnet", "id": format!("{SUB}/networkSecurityGroups/nsg-arg/securityRules/allow-telnet"),
                "type": "Microsoft.Network/networkSecurityGroups/securityRules",
                "properties": {"priority": 100, "direction": "Outbound", "access": "Allow",
                    "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*",
                    "destinationAddressPrefix": "Internet", "destinationPortRange": "23"}},
                {"name": "deny-all", "id": format!("{SUB}/networkSecurityGroups/nsg-arg/securityRules/deny-all"),
                "type": "Microsoft.Network/networkSecurityGroups/securityRules",
                "properties": {"priority": 4096, "direction": "Outbound", "access": "Deny",
                    "protocol": "*", "sourceAddressPrefix": "*", "sourcePortRange": "*",
                    "destinationAddressPrefix": "*", "destinationPortRange": "*"}}],
            "defaultSecurityRules": []}
    });
    let page = json!({"count": 1, "data": [row], "skip_token": "ew0KICAiJGlkIjogIjEiLA0K", "total_records": 2});
    let empty = json!({"count": 0, "data": [], "skip_token": null, "total_records": 0});
    let inv = load_docs(vec![page, empty]);
    let f = findings(&inv, &["EG003", "EG009"]);
    assert_eq!(pairs(&f), ["EG003 nsg-arg", "EG009 nsg-arg"]);
    assert_eq!(
        evidence(find(&f, "EG003", "nsg-arg")),
        ["nsg-arg/allow-telnet allow tcp 23 Internet"]
    );
    let mut w: Vec<String> = inv
        .warnings
        .iter()
        .map(|w| format!("{} {}", w.kind, w.source))
        .collect();
    w.sort();
    assert_eq!(w, ["empty-input doc1.json", "truncated-listing doc0.json"]);
}

#[test]
fn a_configuration_without_an_address_may_be_in_any_source_block() {
    // nic-v6: IPv4 10.70.0.4 plus an IPv6 configuration whose address is not shown yet. The rule
    // denying everything from fd00:db8:70::/64 may be about that address, so it applies (to IPv6
    // only); IPv4 stays open through AllowInternetOutBound.
    let nsg = json!([{
        "name": "nsg-v6", "id": format!("{SUB}/networkSecurityGroups/nsg-v6"),
        "type": "Microsoft.Network/networkSecurityGroups",
        "securityRules": [{"name": "deny-v6-subnet", "priority": 100, "access": "Deny",
            "direction": "Outbound", "protocol": "*", "destinationAddressPrefix": "*",
            "destinationPortRange": "*", "sourceAddressPrefix": "fd00:db8:70::/64"}]
    }]);
    let nic = json!([{
        "name": "nic-v6", "id": format!("{SUB}/networkInterfaces/nic-v6"),
        "type": "Microsoft.Network/networkInterfaces", "macAddress": "00-0D-3A-00-00-50",
        "networkSecurityGroup": {"id": format!("{SUB}/networkSecurityGroups/nsg-v6")},
        "ipConfigurations": [
            {"name": "v4", "primary": true, "privateIPAddress": "10.70.0.4",
             "privateIPAddressVersion": "IPv4",
             "subnet": {"id": format!("{SUB}/virtualNetworks/v/subnets/s")}},
            {"name": "v6", "primary": false, "privateIPAddress": null,
             "privateIPAddressVersion": "IPv6",
             "subnet": {"id": format!("{SUB}/virtualNetworks/v/subnets/s")}}]
    }]);
    let subnet = json!([{"name": "s", "id": format!("{SUB}/virtualNetworks/v/subnets/s"),
        "type": "Microsoft.Network/virtualNetworks/subnets", "addressPrefix": "10.70.0.0/24"}]);
    let inv = load_docs(vec![nsg, nic, subnet]);
    let f = findings(&inv, &["EG001"]);
    assert_eq!(
        find(&f, "EG001", "nic-v6").message,
        "tcp is allowed to 100% of public IPv4; udp is allowed to 100% of public IPv4"
    );
}

#[test]
fn a_blackholed_ipv4_default_route_does_not_hide_ipv6() {
    // rt-v4-none sends 0.0.0.0/0 to None; IPv6 keeps the system route ::/0 → Internet. The
    // dual-stack NIC's findings keep their severity; the IPv4-only NIC's are lowered.
    let rt = json!([{
        "name": "rt-v4-none", "id": format!("{SUB}/routeTables/rt-v4-none"),
        "type": "Microsoft.Network/routeTables", "disableBgpRoutePropagation": true,
        "routes": [{"name": "drop-v4", "addressPrefix": "0.0.0.0/0", "nextHopType": "None"}]
    }]);
    let vnet = json!([{
        "name": "v", "id": format!("{SUB}/virtualNetworks/v"), "type": "Microsoft.Network/virtualNetworks",
        "addressSpace": {"addressPrefixes": ["10.80.0.0/16", "fd00:db8:80::/48"]},
        "subnets": [{"name": "s", "id": format!("{SUB}/virtualNetworks/v/subnets/s"),
            "addressPrefixes": ["10.80.0.0/24", "fd00:db8:80::/64"],
            "routeTable": {"id": format!("{SUB}/routeTables/rt-v4-none")}}]
    }]);
    let nic = |name: &str, v6: bool| {
        let mut ips = vec![
            json!({"name": "v4", "primary": true, "privateIPAddress": "10.80.0.4",
            "privateIPAddressVersion": "IPv4", "subnet": {"id": format!("{SUB}/virtualNetworks/v/subnets/s")}}),
        ];
        if v6 {
            ips.push(json!({"name": "v6", "primary": false, "privateIPAddress": "fd00:db8:80::4",
                "privateIPAddressVersion": "IPv6", "subnet": {"id": format!("{SUB}/virtualNetworks/v/subnets/s")}}));
        }
        json!({"name": name, "id": format!("{SUB}/networkInterfaces/{name}"),
            "type": "Microsoft.Network/networkInterfaces", "macAddress": "00-0D-3A-00-00-60",
            "ipConfigurations": ips})
    };
    let inv = load_docs(vec![
        rt,
        vnet,
        json!([nic("nic-dual", true), nic("nic-v4", false)]),
    ]);
    let route = |n: &str| {
        inv.targets
            .iter()
            .find(|t| short(&t.resource_id) == n)
            .unwrap()
            .route
            .clone()
    };
    assert_eq!(route("nic-v4").internet_path, Some(false));
    let dual = route("nic-dual");
    assert_eq!(dual.internet_path, None);
    assert_eq!(
        dual.reason.as_deref(),
        Some("route table rt-v4-none route drop-v4 sends 0.0.0.0/0 to None (dropped) (public IPv4); route table rt-v4-none does not drop all of public IPv6, which the system route sends to Internet")
    );
    let f = findings(&inv, &["EG001"]);
    let eg1 = find(&f, "EG001", "nic-dual");
    assert_eq!(format!("{:?}", eg1.severity), "High");
    assert!(eg1.notes.iter().all(|n| !n.starts_with("no internet path")));
    let v4 = find(&f, "EG001", "nic-v4");
    assert!(
        v4.notes.iter().any(|n| n.starts_with("no internet path")),
        "{:?}",
        v4.notes
    );
}

#[test]
fn a_rule_priority_outside_azure_range_is_warned() {
    let rule = |name: &str, priority: i64| {
        json!({"name": name, "priority": priority, "access": "Deny", "direction": "Outbound",
               "protocol": "Tcp", "destinationAddressPrefix": "*", "destinationPortRange": "445",
               "sourceAddressPrefix": "*"})
    };
    let inv = load_docs(vec![json!([{
        "name": "nsg-prio", "id": format!("{SUB}/networkSecurityGroups/nsg-prio"),
        "type": "Microsoft.Network/networkSecurityGroups",
        "securityRules": [rule("too-low", 50), rule("ok", 4096), rule("too-high", 5000)]
    }])]);
    // (Warnings come sorted.)
    let w: Vec<&str> = inv
        .warnings
        .iter()
        .filter(|w| w.kind == "invalid-priority")
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(
        w,
        [
            "NSG nsg-prio: outbound rule too-high has priority 5000, outside the 100–4096 Azure allows for security rules; it is evaluated at that priority, so the result may differ from what Azure enforces",
            "NSG nsg-prio: outbound rule too-low has priority 50, outside the 100–4096 Azure allows for security rules; it is evaluated at that priority, so the result may differ from what Azure enforces"
        ]
    );
    // tcp/445 is still denied first.
    assert!(!pairs(&findings(&inv, &["EG002"])).contains(&"EG002 nsg-prio".to_string()));
}
