//! Every check against hand-built, provider-neutral targets: the semantics of docs/SEMANTICS.md §3 without
//! any parser in the way.

use egress_audit::checks::{run, run_on, Catalog};
use egress_audit::config::Config;
use egress_audit::model::space::{parse_addrs, parse_proto, AddrSet, PortSet};
use egress_audit::model::RuleText;
use egress_audit::model::{Action, Chain, Finding, Layer, LayerKind, Rule, Target, TrafficSet};
use egress_audit::normalize::Inventory;
use egress_audit_snapshot::Provider;

fn rule(name: &str, action: Action, proto: &str, ports: &str, dest: &str) -> Rule {
    let proto_n = parse_proto(proto).unwrap();
    let port_set = (ports != "all").then(|| PortSet::parse_ports(ports).unwrap());
    let addrs = dest
        .split(',')
        .map(|d| parse_addrs(d).unwrap())
        .fold(AddrSet::empty(), |a, b| a.union(&b));
    Rule {
        written: RuleText::new(
            name.into(),
            action,
            None,
            proto.into(),
            ports.into(),
            dest.into(),
        ),
        resource: "res-1".into(),
        action,
        traffic: TrafficSet::rule(proto_n, port_set.as_ref(), &addrs).into(),
        unresolved: vec![],
        synthetic: false,
    }
}

fn ordered(rules: Vec<Rule>, no_match: Action) -> Layer {
    Layer {
        kind: LayerKind::Nsg,
        resource: "res-1".into(),
        rules: rules.into(),
        no_match,
        unordered: false,
    }
}

fn group(rules: Vec<Rule>) -> Layer {
    Layer {
        kind: LayerKind::SecurityGroup,
        resource: "res-1".into(),
        rules: rules.into(),
        no_match: Action::Deny,
        unordered: true,
    }
}

fn target(layers: Vec<Vec<Layer>>) -> Target {
    let mut t = Target::new(Provider::Aws, "t-1", "network-interface");
    t.chains = layers.into_iter().map(|layers| Chain { layers }).collect();
    t
}

fn scan_with(t: Target, cfg: &Config, ids: &[&str]) -> Vec<Finding> {
    let inv = Inventory {
        targets: vec![t],
        ..Default::default()
    };
    run(&inv, &crate::inputs::catalog_of(ids).unwrap(), cfg).unwrap()
}

fn scan(t: Target, ids: &[&str]) -> Vec<Finding> {
    scan_with(t, &Config::default(), ids)
}

fn ids(f: &[Finding]) -> Vec<&str> {
    let mut v: Vec<&str> = f.iter().map(|f| f.check_id.as_str()).collect();
    v.sort();
    v.dedup();
    v
}

fn one<'a>(f: &'a [Finding], id: &str) -> &'a Finding {
    let hits: Vec<&Finding> = f.iter().filter(|x| x.check_id == id).collect();
    assert_eq!(hits.len(), 1, "expected one {id} in {f:#?}");
    hits[0]
}

#[test]
fn allow_all_fires_the_broad_checks_with_evidence() {
    let f = scan(
        target(vec![vec![group(vec![rule(
            "sg-1 egress #1",
            Action::Allow,
            "-1",
            "all",
            "0.0.0.0/0",
        )])]]),
        &[
            "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013",
        ],
    );
    assert_eq!(
        ids(&f),
        ["EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG013"]
    );
    let smb = one(&f, "EG002");
    assert_eq!(smb.message, "tcp/445 is allowed to 100% of public IPv4");
    assert_eq!(smb.evidence.len(), 1);
    assert_eq!(smb.evidence[0].name, "sg-1 egress #1");
    assert_eq!(smb.evidence[0].destination, "0.0.0.0/0");
    assert!(one(&f, "EG001").message.contains("100% of public IPv4"));
}

#[test]
fn split_halves_are_the_whole_internet() {
    let f = scan(
        target(vec![vec![group(vec![
            rule("a", Action::Allow, "tcp", "0-65535", "0.0.0.0/1"),
            rule("b", Action::Allow, "tcp", "0-65535", "128.0.0.0/1"),
        ])]]),
        &["EG001", "EG005", "EG006"],
    );
    assert!(ids(&f).contains(&"EG001"));
    assert_eq!(one(&f, "EG001").evidence.len(), 2);
    // udp and everything else stay closed.
    assert!(!ids(&f).contains(&"EG006") || one(&f, "EG006").message.starts_with("tcp/53"));
    assert!(!ids(&f).contains(&"EG005"));
}

#[test]
fn all_but_445_is_still_unrestricted_and_not_smb() {
    let f = scan(
        target(vec![vec![group(vec![
            rule("low", Action::Allow, "tcp", "0-444", "0.0.0.0/0"),
            rule("high", Action::Allow, "tcp", "446-65535", "0.0.0.0/0"),
        ])]]),
        &["EG001", "EG002"],
    );
    assert!(ids(&f).contains(&"EG001"));
    assert!(!ids(&f).contains(&"EG002"));
}

#[test]
fn a_port_range_covering_445_counts() {
    let f = scan(
        target(vec![vec![group(vec![rule(
            "r",
            Action::Allow,
            "tcp",
            "400-500",
            "0.0.0.0/0",
        )])]]),
        &["EG002", "EG008", "EG009"],
    );
    // 400-500 also covers 443, so DoH resolvers are reachable too.
    assert_eq!(ids(&f), ["EG002", "EG008", "EG009"]);
}

#[test]
fn private_destinations_are_not_egress() {
    let f = scan(
        target(vec![vec![group(vec![rule(
            "r",
            Action::Allow,
            "-1",
            "all",
            "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10",
        )])]]),
        crate::inputs::EVERY,
    );
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn first_match_deny_before_allow_blocks() {
    let nacl = ordered(
        vec![
            rule("acl rule 100", Action::Deny, "tcp", "445", "0.0.0.0/0"),
            rule("acl rule 200", Action::Allow, "-1", "all", "0.0.0.0/0"),
        ],
        Action::Deny,
    );
    let f = scan(target(vec![vec![nacl]]), &["EG001", "EG002", "EG011"]);
    assert!(!ids(&f).contains(&"EG002"));
    assert!(ids(&f).contains(&"EG001"));
    assert!(!ids(&f).contains(&"EG011"));
}

#[test]
fn shadowed_deny_and_its_deciders() {
    let nacl = ordered(
        vec![
            rule("acl rule 100", Action::Allow, "-1", "all", "0.0.0.0/0"),
            rule("acl rule 200", Action::Deny, "tcp", "445", "0.0.0.0/0"),
        ],
        Action::Deny,
    );
    let f = scan(target(vec![vec![nacl]]), &["EG002", "EG011", "EG012"]);
    let s = one(&f, "EG011");
    assert_eq!(s.rule.as_deref(), Some("acl rule 200"));
    assert_eq!(s.evidence[0].name, "acl rule 200");
    assert_eq!(s.evidence[1].name, "acl rule 100");
    assert!(ids(&f).contains(&"EG002"));
    // A shadowed deny is not also reported as merely redundant.
    assert!(!ids(&f).contains(&"EG012"));
}

#[test]
fn deny_shadowed_only_by_denies_is_redundant_not_shadowed() {
    let nacl = ordered(
        vec![
            rule("100", Action::Deny, "tcp", "0-1000", "0.0.0.0/0"),
            rule("200", Action::Deny, "tcp", "445", "0.0.0.0/0"),
            rule("300", Action::Allow, "tcp", "8443", "203.0.113.0/24"),
        ],
        Action::Deny,
    );
    let f = scan(target(vec![vec![nacl]]), &["EG011", "EG012"]);
    assert!(!ids(&f).contains(&"EG011"));
    assert_eq!(one(&f, "EG012").rule.as_deref(), Some("200"));
}

#[test]
fn duplicate_group_rules_report_only_the_later_one() {
    let f = scan(
        target(vec![vec![group(vec![
            rule("#1", Action::Allow, "tcp", "443", "1.2.3.0/24"),
            rule("#2", Action::Allow, "tcp", "443", "1.2.3.0/24"),
            rule("#3", Action::Allow, "tcp", "80", "1.2.3.4/32"),
        ])]]),
        &["EG012"],
    );
    let r: Vec<_> = f.iter().filter(|x| x.check_id == "EG012").collect();
    assert_eq!(r.len(), 1, "{f:#?}");
    assert_eq!(r[0].rule.as_deref(), Some("#2"));
}

#[test]
fn chains_intersect() {
    // The group allows everything; the NACL allows only tcp/443.
    let sg = group(vec![rule("sg", Action::Allow, "-1", "all", "0.0.0.0/0")]);
    let nacl = ordered(
        vec![rule("acl 100", Action::Allow, "tcp", "443", "0.0.0.0/0")],
        Action::Deny,
    );
    let f = scan(target(vec![vec![sg], vec![nacl]]), &["EG008", "EG009"]);
    // tcp/443 to the internet is broad; nothing else leaves (EG008 for DoH resolvers on 443).
    assert_eq!(ids(&f), ["EG008", "EG009"]);
    let doh = one(&f, "EG008");
    assert!(
        doh.message.starts_with(
            "well-known DoH resolvers (tcp/443) is allowed to 10 of 16 listed addresses"
        ),
        "{}",
        doh.message
    );
    assert_eq!(doh.evidence.len(), 2, "both chains' allows are evidence");
}

#[test]
fn icmp_echo_and_ipv6() {
    let f = scan(
        target(vec![vec![group(vec![
            rule("ping4", Action::Allow, "icmp", "all", "0.0.0.0/0"),
            rule("v6", Action::Allow, "-1", "all", "::/0"),
        ])]]),
        &["EG001", "EG007"],
    );
    let icmp = one(&f, "EG007");
    assert!(icmp.message.contains("public IPv4"), "{}", icmp.message);
    assert!(icmp.message.contains("public IPv6"), "{}", icmp.message);
    let e1 = one(&f, "EG001");
    assert!(e1.message.contains("100% of public IPv6"), "{}", e1.message);
}

#[test]
fn dns_resolver_allow_list() {
    let t = || {
        target(vec![vec![group(vec![rule(
            "dns",
            Action::Allow,
            "udp",
            "53",
            "8.8.8.8/32",
        )])]])
    };
    assert_eq!(ids(&scan(t(), &["EG006"])), ["EG006"]);
    let cfg = Config {
        dns_resolvers: vec!["8.8.8.8".into()],
        ..Default::default()
    };
    assert!(scan_with(t(), &cfg, &["EG006"]).is_empty());
}

#[test]
fn risky_ports_come_from_config() {
    let t = || {
        target(vec![vec![group(vec![rule(
            "ssh",
            Action::Allow,
            "tcp",
            "22",
            "198.51.100.7/32,8.8.4.0/24",
        )])]])
    };
    let f = scan(t(), &["EG013"]);
    assert_eq!(ids(&f), ["EG013"]);
    assert!(one(&f, "EG013").message.starts_with("tcp/22 is allowed to"));
    let cfg = Config {
        risky_ports: Some(vec!["tcp/8080".into()]),
        ..Default::default()
    };
    assert!(scan_with(t(), &cfg, &["EG013"]).is_empty());
    let bad = Config {
        risky_ports: Some(vec!["tcp/99999".into()]),
        ..Default::default()
    };
    let inv = Inventory {
        targets: vec![t()],
        ..Default::default()
    };
    let err = run(&inv, &crate::inputs::catalog_of(&["EG013"]).unwrap(), &bad).unwrap_err();
    assert!(err.to_string().contains("risky_ports"), "{err}");
}

#[test]
fn block_list_posture_is_eg005() {
    // Deny a few things, allow the rest: a block-list.
    let nacl = ordered(
        vec![
            rule("100", Action::Deny, "tcp", "445", "0.0.0.0/0"),
            rule("200", Action::Allow, "-1", "all", "0.0.0.0/0"),
        ],
        Action::Deny,
    );
    assert!(ids(&scan(target(vec![vec![nacl]]), &["EG005"])).contains(&"EG005"));
}

#[test]
fn no_chain_is_unfiltered() {
    let t = Target::new(Provider::Azure, "nic-1", "nic");
    let f = scan(t, &["EG001", "EG002"]);
    assert!(ids(&f).contains(&"EG001"));
    // Every finding names what decided it, even when nothing filters.
    assert!(f.iter().all(|x| !x.evidence.is_empty()), "{f:#?}");
    assert!(one(&f, "EG002").evidence[0].name.contains("no filter"));
}

#[test]
fn no_internet_path_keeps_findings_as_info() {
    let mut t = target(vec![vec![group(vec![rule(
        "r",
        Action::Allow,
        "tcp",
        "445",
        "0.0.0.0/0",
    )])]]);
    t.route.internet_path = Some(false);
    t.route.reason = Some("rtb-1 has no default route".into());
    t.route.appliance = None;
    let f = scan(t, &["EG002"]);
    let smb = one(&f, "EG002");
    // The catalog's severity stands (a route can be added at any time); the note says why it
    // may not matter today. `lower_unreachable` in the config lowers it (config_baseline).
    assert_eq!(smb.severity, egress_audit::model::Severity::High);
    assert_eq!(smb.original_severity, None);
    assert!(smb.notes.iter().any(|n| n.contains("no internet path")));
}

#[test]
fn goto_next_hands_the_decision_on() {
    let policy = Layer {
        kind: LayerKind::FirewallPolicy,
        resource: "pol".into(),
        rules: vec![rule("pol/100", Action::Next, "tcp", "445", "0.0.0.0/0")].into(),
        no_match: Action::Next,
        unordered: false,
    };
    let vpc = Layer {
        kind: LayerKind::VpcFirewall,
        resource: "net".into(),
        rules: vec![rule(
            "deny-smb",
            Action::Deny,
            "tcp",
            "445",
            "0.0.0.0/0,::/0",
        )]
        .into(),
        no_match: Action::Allow,
        unordered: false,
    };
    let f = scan(target(vec![vec![policy, vpc]]), &["EG001", "EG002"]);
    assert!(!ids(&f).contains(&"EG002"), "{f:#?}");
    assert!(ids(&f).contains(&"EG001"));
}

#[test]
fn custom_allowlist_rule_for_tagged_targets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("web.toml"),
        r#"
id = "ORG001"
slug = "web-only-https"
severity = "high"
title = "Web servers may only reach the payment API"
rationale = "PCI scope."
remediation = "Remove other egress."
[query]
kind = "allowlist"
allow = ["tcp/443 to 8.8.4.0/24"]
targets = { tags = ["web"] }
"#,
    )
    .unwrap();
    let catalog = Catalog::load(&[dir.path().to_path_buf()]).unwrap();
    let mk = |tagged: bool, port: &str| {
        let mut t = target(vec![vec![group(vec![rule(
            "r",
            Action::Allow,
            "tcp",
            port,
            "8.8.4.0/24",
        )])]]);
        if tagged {
            t.labels.insert("role".into(), "web".into());
        }
        t
    };
    let run1 = |t: Target| {
        let inv = Inventory {
            targets: vec![t],
            ..Default::default()
        };
        run(&inv, &catalog, &Config::default())
            .unwrap()
            .into_iter()
            .filter(|f| f.check_id == "ORG001")
            .count()
    };
    assert_eq!(run1(mk(true, "443")), 0);
    assert_eq!(run1(mk(true, "80")), 1);
    assert_eq!(run1(mk(false, "80")), 0);
}

#[test]
fn bad_rule_files_are_errors_that_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "id = \"X1\"\nslug = \"x\"\nseverity = \"high\"\ntitle = \"t\"\nrationale = \"r\"\nremediation = \"m\"\n[query]\nkind = \"reachable\"\ntraffic = [\"tcp/70000\"]\n",
    )
    .unwrap();
    let err = Catalog::load(&[dir.path().to_path_buf()])
        .unwrap_err()
        .to_string();
    // Line 9, column 12: the spec inside `traffic = [...]`.
    assert!(
        err.contains("bad.toml:9:12: X1 query: ") && err.contains("70000"),
        "{err}"
    );
    std::fs::write(
        &p,
        "id = \"EG002\"\nslug = \"x\"\nseverity = \"high\"\ntitle = \"t\"\nrationale = \"r\"\nremediation = \"m\"\n[query]\nkind = \"reachable\"\ntraffic = [\"tcp/1\"]\n",
    )
    .unwrap();
    let err = Catalog::load(&[dir.path().to_path_buf()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.toml:1:6: check id EG002 is already defined by builtin:rules/EG002-smb-egress.toml:1:6"), "{err}");
}

fn rule_text(id: &str, query: &str) -> String {
    format!("id = \"{id}\"\nslug = \"s-{id}\"\nseverity = \"high\"\ntitle = \"t\"\nrationale = \"r\"\nremediation = \"m\"\n[query]\n{query}")
}

/// Every rule file of `--rules` is read and every fault reported at its field, in one pass: a bad
/// query field, a missing field (at its table), an empty slug, a TOML error, a duplicate id.
#[test]
fn every_rule_file_error_is_reported_at_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let put = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
    put(
        "a.toml",
        rule_text(
            "ORG1",
            "kind = \"coverage\"\ntraffic = [\"tcp\"]\nthreshold = 1.5\n",
        ),
    );
    put(
        "b.toml",
        rule_text("ORG2", "kind = \"allowlist\"\nallow = [\"tcp/443\"]\n"),
    );
    put(
        "c.toml",
        rule_text(
            "ORG3",
            "kind = \"reachable\"\ntraffic_from_config = \"risky\"\n",
        )
        .replace("\"s-ORG3\"", "\" \""),
    );
    put("d.toml", rule_text("ORG4", "kind = \"reachabl\"\n"));
    put(
        "e.toml",
        rule_text("ORG1", "kind = \"reachable\"\ntraffic = [\"tcp/1\"]\n"),
    );
    let err = match Catalog::load(&[dir.path().to_path_buf()]) {
        Err(egress_audit::checks::CatalogError::Invalid(d)) => d,
        other => panic!("expected diagnostics, got {other:?}"),
    };
    let f = |n: &str| dir.path().join(n).display().to_string();
    let got: Vec<String> = err.0.iter().map(|d| d.to_string()).collect();
    let expect = [
        format!("{}:10:13: ORG1 query: threshold 1.5", f("a.toml")),
        // No `targets` key: the `[query]` table is at fault.
        format!(
            "{}:7:1: ORG2 query: an allowlist needs `targets`",
            f("b.toml")
        ),
        format!("{}:2:8: `slug` must not be empty", f("c.toml")),
        format!(
            "{}:9:23: ORG3 query: traffic_from_config = \"risky\"",
            f("c.toml")
        ),
        format!(
            "{}:8:8: invalid rule file: unknown variant `reachabl`",
            f("d.toml")
        ),
        format!(
            "{}:1:6: check id ORG1 is already defined by {}:1:6",
            f("e.toml"),
            f("a.toml")
        ),
    ];
    assert_eq!(got.len(), expect.len(), "{err}");
    for (g, e) in got.iter().zip(&expect) {
        assert!(g.starts_with(e.as_str()), "{g:?} should start with {e:?}");
    }
}

#[test]
fn disabled_checks_do_not_run() {
    let cfg = Config {
        disabled: vec!["EG002".into(), "icmp-egress".into()],
        ..Default::default()
    };
    let f = scan_with(
        target(vec![vec![group(vec![rule(
            "r",
            Action::Allow,
            "-1",
            "all",
            "0.0.0.0/0",
        )])]]),
        &cfg,
        &["EG002", "EG007"],
    );
    assert!(!ids(&f).contains(&"EG002") && !ids(&f).contains(&"EG007"));
}

#[test]
fn a_rule_is_redundant_only_if_it_decides_nothing_for_every_target() {
    let layer = |rules: Vec<Rule>| ordered(rules, Action::Deny);
    let shared = || rule("allow-ssh", Action::Allow, "tcp", "22", "0.0.0.0/0");
    let mut a = target(vec![vec![layer(vec![
        rule("allow-all-web", Action::Allow, "-1", "all", "0.0.0.0/0"),
        shared(),
    ])]]);
    a.resource_id = "net[tag:web]".into();
    let mut b = target(vec![vec![layer(vec![shared()])]]);
    b.resource_id = "net".into();
    let catalog = crate::inputs::catalog_of(&["EG012"]).unwrap();
    let redundant = |targets: Vec<Target>| {
        let inv = Inventory {
            targets,
            ..Default::default()
        };
        run(&inv, &catalog, &Config::default())
            .unwrap()
            .into_iter()
            .filter(|f| f.check_id == "EG012")
            .filter_map(|f| f.rule)
            .collect::<Vec<_>>()
    };
    assert_eq!(redundant(vec![a.clone()]), ["allow-ssh"]);
    assert!(redundant(vec![a, b]).is_empty());
}

#[test]
fn threads_share_the_targets_without_changing_a_verdict() {
    // 1,200 targets share rules; `allow-ssh` decides nothing for all but the last one (so it is
    // not redundant), and `deny-smb` is shadowed for target 7 only (so it is). Each thread sees
    // a part: the verdicts must be joined as if one thread had seen every target.
    let layer = |rules: Vec<Rule>| ordered(rules, Action::Deny);
    let shared = || rule("allow-ssh", Action::Allow, "tcp", "22", "0.0.0.0/0");
    let deny_smb = || rule("deny-smb", Action::Deny, "tcp", "445", "0.0.0.0/0");
    let targets = |n: usize| -> Vec<Target> {
        (0..n)
            .map(|i| {
                let mut rules = vec![rule("allow-all", Action::Allow, "-1", "all", "0.0.0.0/0")];
                if i == 1199 {
                    rules.clear();
                }
                rules.push(shared());
                if i == 7 {
                    rules.push(deny_smb());
                } else {
                    rules.insert(0, deny_smb());
                }
                let mut t = target(vec![vec![layer(rules)]]);
                t.resource_id = format!("t-{i}").into();
                t
            })
            .collect()
    };
    let catalog = crate::inputs::catalog_of(&["EG001", "EG011", "EG012"]).unwrap();
    let scan = |n: usize, threads: usize| {
        let inv = Inventory {
            targets: targets(n),
            ..Default::default()
        };
        run_on(&inv, &catalog, &Config::default(), threads).unwrap()
    };
    let rules_of = |f: &[Finding], id: &str| -> Vec<String> {
        f.iter()
            .filter(|f| f.check_id == id)
            .filter_map(|f| f.rule.as_deref().map(str::to_string))
            .collect()
    };
    let one = scan(1200, 1);
    assert!(
        rules_of(&one, "EG012").is_empty(),
        "allow-ssh decides traffic for t-1199"
    );
    assert_eq!(rules_of(&one, "EG011"), ["deny-smb"]);
    assert_eq!(one.iter().filter(|f| f.check_id == "EG001").count(), 1199);
    // Without the last target the shared rule is redundant: the test can tell.
    assert_eq!(rules_of(&scan(1199, 1), "EG012"), ["allow-ssh"]);
    for threads in [2, 3, 4, 7] {
        let many = scan(1200, threads);
        assert_eq!(
            serde_json::to_string(&many).unwrap(),
            serde_json::to_string(&one).unwrap(),
            "{threads} threads"
        );
    }
}
