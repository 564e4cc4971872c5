//! `cargo bench --bench engine`: 10,000 targets × 50 rules (25 security-group allows + 25 NACL
//! entries each, all different): evaluated on one thread, then evaluated and checked as `scan`
//! does, on every core. Prints wall and CPU time per phase and peak memory (VmHWM). Goal (issue 12
//! §2): evaluation and every check under 1 s.

use egress_audit::checks::{run, Catalog};

// The allocator of the `egress-audit` binary (src/main.rs), so the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use egress_audit::config::Config;
use egress_audit::eval::eval_target;
use egress_audit::model::space::{parse_addrs, PortSet};
use egress_audit::model::{Action, Chain, Layer, LayerKind, Rule, RuleText, Target, TrafficSet};
use egress_audit::normalize::Inventory;
use egress_audit_snapshot::Provider;
use std::time::Instant;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_rule(rng: &mut Lcg, name: String, action: Action) -> Rule {
    let proto = [Some(6u8), Some(17), None, Some(6), Some(1)][rng.below(5) as usize];
    let lo = rng.below(65536) as u32;
    let hi = (lo + rng.below(2000) as u32).min(65535);
    let ports = PortSet::range(lo, hi);
    let cidr = match rng.below(4) {
        0 => "0.0.0.0/0".to_string(),
        1 => format!("{}.{}.0.0/16", rng.below(223) + 1, rng.below(256)),
        2 => format!(
            "{}.{}.{}.0/24",
            rng.below(223) + 1,
            rng.below(256),
            rng.below(256)
        ),
        _ => format!("{}.0.0.0/8", rng.below(223) + 1),
    };
    let addrs = parse_addrs(&cidr).unwrap();
    Rule {
        written: RuleText::new(
            name.into(),
            action,
            None,
            format!("{proto:?}").into(),
            format!("{lo}-{hi}").into(),
            cidr.into(),
        ),
        resource: "bench".into(),
        action,
        traffic: TrafficSet::rule(proto, Some(&ports), &addrs).into(),
        unresolved: vec![],
        synthetic: false,
    }
}

/// `n` targets; with `distinct = Some(k)`, targets share k different rule sets (ENIs that share
/// security groups and ACLs, as they do in real accounts).
fn targets(n: usize, distinct: Option<usize>) -> Vec<Target> {
    let mut rng = Lcg(42);
    (0..n)
        .map(|t| {
            let i = distinct.map_or(t, |k| t % k);
            if distinct.is_some() {
                rng = Lcg(42 + i as u64);
            }
            let sg: Vec<Rule> = (0..25)
                .map(|k| random_rule(&mut rng, format!("sg-{i} egress #{k}"), Action::Allow))
                .collect();
            let acl: Vec<Rule> = (0..25)
                .map(|k| {
                    let a = if rng.below(3) == 0 {
                        Action::Deny
                    } else {
                        Action::Allow
                    };
                    random_rule(&mut rng, format!("acl-{i} rule {}", (k + 1) * 100), a)
                })
                .collect();
            let mut t = Target::new(Provider::Aws, format!("eni-{t}"), "network-interface");
            t.chains = vec![
                Chain {
                    layers: vec![Layer {
                        kind: LayerKind::SecurityGroup,
                        resource: format!("sg-{i}"),
                        rules: sg.into(),
                        no_match: Action::Deny,
                        unordered: true,
                    }],
                },
                Chain {
                    layers: vec![Layer {
                        kind: LayerKind::NetworkAcl,
                        resource: format!("acl-{i}"),
                        rules: acl.into(),
                        no_match: Action::Deny,
                        unordered: false,
                    }],
                },
            ];
            t
        })
        .collect()
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// User + system CPU seconds of this process so far (less sensitive to a busy machine than wall time).
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn main() {
    let n: usize = std::env::var("BENCH_TARGETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let t0 = Instant::now();
    let ts = targets(n, None);
    let gen = t0.elapsed();

    let (t1, c1) = (Instant::now(), cpu_s());
    let mut allowed_pieces = 0usize;
    for t in &ts {
        allowed_pieces += eval_target(t).allowed.pieces().count();
    }
    let (eval, eval_cpu) = (t1.elapsed(), cpu_s() - c1);

    let inv = Inventory {
        targets: ts,
        ..Default::default()
    };
    let catalog = Catalog::load(&[]).unwrap();
    let (t2, c2) = (Instant::now(), cpu_s());
    let findings = run(&inv, &catalog, &Config::default()).unwrap();
    let (checks, checks_cpu) = (t2.elapsed(), cpu_s() - c2);

    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    println!(
        "targets: {n}, rules per target: 50 (25 SG + 25 NACL); evaluation alone on one thread, \
         evaluation + checks on {threads} (checks::run uses every core)"
    );
    println!("generate:            {:>8.3} s", gen.as_secs_f64());
    println!(
        "evaluate (effective egress sets): {:>8.3} s wall, {:>6.2} s CPU  ({} result pieces)",
        eval.as_secs_f64(),
        eval_cpu,
        allowed_pieces
    );
    println!(
        "evaluate + all 12 checks:         {:>8.3} s wall, {:>6.2} s CPU  ({} findings)",
        checks.as_secs_f64(),
        checks_cpu,
        findings.len()
    );
    println!("peak memory (VmHWM): {:>8.1} MB", peak_rss_mb());

    // The same number of targets sharing 200 rule sets: each distinct chain is evaluated at most twice.
    let shared = Inventory {
        targets: targets(n, Some(200)),
        ..Default::default()
    };
    let (t3, c3) = (Instant::now(), cpu_s());
    let findings = run(&shared, &catalog, &Config::default()).unwrap();
    println!(
        "{n} targets sharing 200 rule sets, evaluate + checks: {:>6.3} s wall, {:>5.2} s CPU ({} findings)",
        t3.elapsed().as_secs_f64(),
        cpu_s() - c3,
        findings.len()
    );
    if std::env::var("BENCH_PER_CHECK").is_ok() {
        // Each check alone (on top of evaluation), to see where check time goes.
        for only in &catalog.checks {
            let cfg = Config {
                disabled: catalog
                    .checks
                    .iter()
                    .filter(|c| c.id != only.id)
                    .map(|c| c.id.to_string())
                    .collect(),
                ..Default::default()
            };
            let c0 = cpu_s();
            let n = run(&inv, &catalog, &cfg).unwrap().len();
            println!(
                "  {} alone: {:>6.2} s CPU ({n} findings)",
                only.id,
                cpu_s() - c0
            );
        }
    }
}
