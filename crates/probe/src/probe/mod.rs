//! `egress-audit probe`: live egress tests from inside a host.
//!
//! TCP connects to every requested port of a target that answers on all ports (letmeoutofyour.net
//! or our own `serve`), ICMP echo, DNS straight to public resolvers, DoT and DoH, and UDP echo
//! against a `serve` target. The result ([`ProbeReport`]) is printed as a table or as JSON
//! (`egress-audit-probe/1`), and that JSON is an input of `scan` (src/normalize/probe.rs).

pub mod dns;
pub mod doh;
pub mod icmp;
pub mod metadata;
pub mod output;
pub mod ranges;
pub mod tcp;
pub mod udp;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

pub use ranges::PortRanges;

/// The marker that tells `scan` a file is a probe result.
pub use egress_audit_snapshot::probe_result::FORMAT;
/// The default target: answers `w00tw00t` on every TCP port.
pub const DEFAULT_TARGET: &str = "letmeoutofyour.net";
pub use egress_audit_snapshot::probe_result::DEFAULT_EXPECT;

/// Adaptive timeout bounds: the floor is safe on the internet, the ceiling keeps a full sweep short.
pub const TIMEOUT_FLOOR: Duration = Duration::from_millis(300);
pub const TIMEOUT_CEILING: Duration = Duration::from_millis(2000);
pub const TIMEOUT_INITIAL: Duration = Duration::from_millis(1000);

/// Everything one probe run found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProbeReport {
    pub format: String,
    pub tool: ToolVersion,
    /// The probing host's name.
    pub host: String,
    pub target: String,
    pub address: String,
    /// The cloud instance the probe ran on, from its metadata service (absent off-cloud or
    /// with `--no-metadata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<metadata::CloudIdentity>,
    /// `--label KEY=VALUE` (site, network, host role), for hosts that no metadata names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub started: String,
    pub elapsed_ms: u64,
    /// True when the run was interrupted: what is listed was tested, `tcp.untested` was not.
    pub partial: bool,
    pub settings: Settings,
    pub tcp: Option<TcpResult>,
    pub icmp: Option<icmp::IcmpResult>,
    pub dns: Option<dns::DnsResult>,
    pub doh: Option<doh::DohResult>,
    pub udp: Option<udp::UdpResult>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ToolVersion {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    /// The connect timeout at the end of the run (the adaptive one, or the one given).
    pub timeout_ms: u64,
    pub adaptive_timeout: bool,
    /// The longer timeout used to re-test filtered ports.
    pub retest_timeout_ms: u64,
    pub concurrency: usize,
    pub expect: String,
    /// How long the TCP sweep and the re-test of its filtered ports took.
    #[serde(default)]
    pub sweep_ms: u64,
    #[serde(default)]
    pub retest_ms: u64,
}

/// TCP verdicts as inclusive `[lo, hi]` port ranges.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TcpResult {
    pub ports_tested: u32,
    /// Connected, and the answer held the expected token.
    pub open: PortRanges,
    /// Connected, but the answer was not the token, or the responder saw another port.
    pub intercepted: PortRanges,
    /// Refused or reset.
    pub closed: PortRanges,
    /// No answer within the timeout, twice; or an ICMP unreachable.
    pub filtered: PortRanges,
    /// Ports not tested because the run was interrupted.
    #[serde(default, skip_serializing_if = "PortRanges::is_empty")]
    pub untested: PortRanges,
    /// Why ports were called intercepted (the first few).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intercepted_detail: Vec<Interception>,
    /// Filtered ports whose connect failed at once rather than timing out (no route, an ICMP
    /// unreachable, a local policy), by error: the rest of the filtered ports timed out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filtered_detail: Vec<FilteredBy>,
    /// Ports that connected but stayed silent, tried again at the end with fewer connections in
    /// flight and a longer wait for the answer before they were called intercepted.
    #[serde(default)]
    pub silent_retest: SilentRetest,
}

/// The re-test of ports that connected and then gave no answer: a responder slowed down by the
/// sweep itself is not an interceptor.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SilentRetest {
    /// Ports re-tested.
    pub ports: u32,
    /// Of those, how many answered with the token this time (now open).
    pub open: u32,
    /// Silent ports not re-tested, because the first round of the re-test stayed silent too
    /// (a tarpit or an interceptor that holds connections): they stay intercepted.
    pub skipped: u32,
    /// Connections in flight during the re-test, and how long an answer was waited for.
    pub concurrency: u32,
    pub answer_timeout_ms: u64,
    /// How long the re-test took.
    pub ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FilteredBy {
    pub reason: String,
    pub ports: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Interception {
    pub port: u16,
    pub reason: String,
}

/// What to probe and how.
#[derive(Clone, Debug)]
pub struct ProbeConfig {
    pub target: String,
    /// Held to one address family, or None (IPv4 first).
    pub family: Option<Family>,
    pub ports: Vec<u16>,
    pub concurrency: usize,
    /// None: adaptive.
    pub timeout: Option<Duration>,
    pub expect: String,
    pub tcp: bool,
    pub icmp: bool,
    /// Extra hosts to ping besides the target.
    pub ping_extra: Vec<IpAddr>,
    pub dns: bool,
    /// Resolvers asked straight on udp/53 and tcp/53.
    pub dns_servers: Vec<IpAddr>,
    /// DNS over TLS to the well-known resolvers.
    pub dot: bool,
    pub dns_name: String,
    pub doh: bool,
    /// CA certificates trusted for DoT and DoH besides the webpki roots.
    pub tls_ca: Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>,
    pub udp_ports: Vec<u16>,
    pub progress: bool,
    /// Ask the instance metadata service who this host is.
    pub metadata: bool,
    pub labels: BTreeMap<String, String>,
}

/// Raises the open-file soft limit to the hard limit; returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit write to and read from a local, initialised struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        // With CAP_SYS_RESOURCE (root) the hard limit itself can go up to fs.nr_open; a full
        // sweep's re-test wants tens of thousands of sockets. Without it this simply fails.
        let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse::<libc::rlim_t>().ok())
            .unwrap_or(0)
            .min(1 << 20);
        if nr_open > lim.rlim_max {
            let want = libc::rlimit {
                rlim_cur: nr_open,
                rlim_max: nr_open,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                return nr_open;
            }
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        lim.rlim_cur
    }
}

/// Whether an I/O error means "out of sockets for now": back-pressure, never a verdict.
pub fn is_resource_exhaustion(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EADDRNOTAVAIL)
    )
}

/// Resolves the target: an address literal, or the first address the system resolver gives
/// (IPv4 first, as most egress rules are IPv4).
/// The address family a probe is held to (`-4`, `-6`); None: IPv4 first, as most egress is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn holds(self, ip: &IpAddr) -> bool {
        match self {
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

pub async fn resolve_target(target: &str, family: Option<Family>) -> anyhow::Result<IpAddr> {
    if let Ok(ip) = target.parse::<IpAddr>() {
        if let Some(f) = family.filter(|f| !f.holds(&ip)) {
            anyhow::bail!("{target} is not an {} address", f.name());
        }
        return Ok(ip);
    }
    let addrs: Vec<IpAddr> = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::lookup_host((target, 0)),
    )
    .await
    .map_err(|_| anyhow::anyhow!("resolving {target} timed out"))?
    .map_err(|e| anyhow::anyhow!("cannot resolve {target}: {e}"))?
    .map(|s| s.ip())
    .collect();
    match family {
        Some(f) => addrs.iter().find(|a| f.holds(a)).copied().ok_or_else(|| {
            anyhow::anyhow!(
                "{target} has no {} address (it resolved to {})",
                f.name(),
                addrs
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }),
        None => addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| addrs.first())
            .copied()
            .ok_or_else(|| anyhow::anyhow!("{target} resolved to no address")),
    }
}

/// The host name of this machine.
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        if let Ok(s) = std::str::from_utf8(&buf[..end]) {
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown-host".into())
}

/// Runs every enabled probe. Ctrl-C during the TCP sweep stops it and returns what is known.
pub async fn run(cfg: ProbeConfig) -> anyhow::Result<ProbeReport> {
    let started = chrono::Utc::now();
    let clock = std::time::Instant::now();
    // Asked beside the sweep: it costs the sweep nothing, and off-cloud it ends at once.
    let identity = cfg
        .metadata
        .then(|| tokio::spawn(metadata::identity(metadata::METADATA_ADDR)));
    let address = resolve_target(&cfg.target, cfg.family).await?;
    let mut partial = false;
    let mut settings = Settings {
        timeout_ms: cfg.timeout.unwrap_or(TIMEOUT_INITIAL).as_millis() as u64,
        adaptive_timeout: cfg.timeout.is_none(),
        retest_timeout_ms: 0,
        concurrency: cfg.concurrency,
        expect: cfg.expect.clone(),
        sweep_ms: 0,
        retest_ms: 0,
    };
    let tcp = if cfg.tcp && !cfg.ports.is_empty() {
        let scan = tcp::Scanner::new(tcp::ScanOptions {
            address,
            host: cfg.target.clone(),
            ports: cfg.ports.clone(),
            concurrency: cfg.concurrency,
            timeout: cfg.timeout,
            expect: cfg.expect.clone(),
            progress: cfg.progress,
        });
        let outcome = {
            let run = scan.run();
            tokio::pin!(run);
            tokio::select! {
                r = &mut run => r,
                _ = tokio::signal::ctrl_c() => {
                    partial = true;
                    eprintln!("egress-audit: interrupted; printing what is known so far");
                    scan.snapshot()
                }
            }
        };
        settings.timeout_ms = outcome.timeout.as_millis() as u64;
        settings.retest_timeout_ms = outcome.retest_timeout.as_millis() as u64;
        settings.concurrency = outcome.concurrency;
        settings.sweep_ms = outcome.sweep.as_millis() as u64;
        settings.retest_ms = outcome.retest.as_millis() as u64;
        Some(outcome.result)
    } else {
        None
    };
    let icmp = if cfg.icmp && !partial {
        let mut hosts = vec![address];
        hosts.extend(cfg.ping_extra.iter().copied().filter(|a| *a != address));
        Some(icmp::probe(&hosts).await)
    } else {
        None
    };
    let tls = doh::client_config(&cfg.tls_ca);
    let dns = if cfg.dns && !partial {
        Some(dns::probe(&cfg.dns_name, &cfg.dns_servers, cfg.dot, tls.clone()).await)
    } else {
        None
    };
    let doh = if cfg.doh && !partial {
        Some(doh::probe(&cfg.dns_name, tls.clone()).await)
    } else {
        None
    };
    let udp = if !cfg.udp_ports.is_empty() && !partial {
        let timeout = Duration::from_millis(settings.timeout_ms.max(300));
        Some(udp::probe(address, &cfg.udp_ports, cfg.concurrency.min(512), timeout).await)
    } else {
        None
    };
    let identity = match identity {
        Some(task) => task.await.ok().flatten(),
        None => None,
    };
    Ok(ProbeReport {
        format: FORMAT.into(),
        tool: ToolVersion {
            name: "egress-audit".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        host: host_name(),
        target: cfg.target.clone(),
        address: address.to_string(),
        identity,
        labels: cfg.labels.clone(),
        started: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        elapsed_ms: clock.elapsed().as_millis() as u64,
        partial,
        settings,
        tcp,
        icmp,
        dns,
        doh,
        udp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn family_holds_the_target_to_one_address_family() {
        let v4 = resolve_target("10.213.0.2", Some(Family::V4))
            .await
            .unwrap();
        assert_eq!(v4.to_string(), "10.213.0.2");
        let wrong = resolve_target("10.213.0.2", Some(Family::V6)).await;
        assert!(wrong
            .unwrap_err()
            .to_string()
            .contains("not an IPv6 address"));
        let wrong = resolve_target("fd00::2", Some(Family::V4)).await;
        assert!(wrong
            .unwrap_err()
            .to_string()
            .contains("not an IPv4 address"));
        let any = resolve_target("fd00::2", None).await.unwrap();
        assert!(any.is_ipv6());
        let local = resolve_target("localhost", Some(Family::V4)).await.unwrap();
        assert!(local.is_loopback() && local.is_ipv4());
    }
}
