//! `probe` and `serve` options.

use crate::probe::{self, ranges::parse_port_list, ProbeConfig};
use crate::serve::{self, ServeConfig};
use anyhow::Context;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProbeFormat {
    Table,
    Json,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ProbeArgs {
    /// The host that answers on every port (letmeoutofyour.net, or your own `egress-audit serve`).
    #[arg(long, default_value = probe::DEFAULT_TARGET)]
    pub target: String,
    /// Probe the target's IPv4 address only.
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Probe the target's IPv6 address only (egress over IPv6 is often filtered differently).
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// TCP ports to test: `1-1024,3389,8000-9000`, or `all`.
    #[arg(long, default_value = "1-65535")]
    pub ports: String,
    /// Connects in flight at most (lowered by itself when the host runs out of sockets). The
    /// default is in line with RustScan's batch (4500) and nmap's `--min-rate 5000`.
    #[arg(long, default_value_t = 4000)]
    pub concurrency: usize,
    /// Connect timeout, e.g. `800ms`, `1.5s` [default: adaptive, from the round-trip times seen,
    /// between 300 ms and 2 s].
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// The token an open port must answer with.
    #[arg(long, default_value = probe::DEFAULT_EXPECT)]
    pub expect: String,
    /// UDP ports to test against a `serve` target, which echoes them.
    #[arg(long, default_value = "")]
    pub udp_ports: String,
    /// Hosts pinged besides the target (comma-separated addresses, or `none`).
    #[arg(long, default_value = "1.1.1.1")]
    pub ping_extra: String,
    /// Resolvers asked straight on udp/53 and tcp/53 (comma-separated addresses).
    #[arg(long, default_value = "8.8.8.8,1.1.1.1")]
    pub dns_servers: String,
    /// Skip DNS over TLS (tcp/853).
    #[arg(long)]
    pub no_dot: bool,
    /// The name looked up in the DNS, DoT and DoH checks.
    #[arg(long, default_value = "example.com")]
    pub dns_name: String,
    /// Skip the ICMP echo.
    #[arg(long)]
    pub no_icmp: bool,
    /// Skip DNS (udp/53, tcp/53, DoT and the system resolver).
    #[arg(long)]
    pub no_dns: bool,
    /// Skip DoH.
    #[arg(long)]
    pub no_doh: bool,
    /// CA certificates (PEM) to trust for DoT and DoH besides the public roots, e.g. a
    /// TLS-inspecting proxy's: its re-signed answers then count as answered, not intercepted.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Only the TCP sweep (and `--udp-ports` if given).
    #[arg(long)]
    pub tcp_only: bool,
    /// Skip the TCP sweep.
    #[arg(long)]
    pub no_tcp: bool,
    /// Output format [default: table on a terminal, else json].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<ProbeFormat>,
    /// Write the result to FILE (atomically) instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Do not ask the cloud instance metadata service (169.254.169.254) which instance, account
    /// and interfaces this host is (asked by default; off-cloud it costs nothing).
    #[arg(long)]
    pub no_metadata: bool,
    /// A label for the result, e.g. `--label site=dc1 --label role=web` (repeatable): names a
    /// host that no metadata service names, for `scan` to match and group.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = probe::metadata::parse_label)]
    pub labels: Vec<(String, String)>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: IpAddr,
    /// The port that a redirect rule sends every other port to (the rule is printed at start).
    #[arg(long, default_value_t = 8421)]
    pub port: u16,
    /// Ports to bind directly as well, e.g. `80,443,445` (no redirect needed for these).
    #[arg(long, default_value = "")]
    pub ports: String,
    /// The body of every answer.
    #[arg(long, default_value = probe::DEFAULT_EXPECT)]
    pub token: String,
    /// Connections served at once; more are closed at once, unless their source holds fewer than
    /// the heaviest one: then that source's oldest connection is closed for them.
    #[arg(long, default_value_t = 16384)]
    pub max_conns: usize,
    /// Connections one source (an IPv4 address or an IPv6 /64) may hold at once; more from it
    /// are closed at once [default: half of --max-conns].
    #[arg(long)]
    pub max_conns_per_source: Option<usize>,
    /// Time limit per connection, e.g. `10s`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub conn_timeout: Duration,
    /// Do not echo UDP.
    #[arg(long)]
    pub no_udp: bool,
    /// UDP echoes per second and port, at most.
    #[arg(long, default_value_t = 2000)]
    pub udp_rate: u32,
    /// UDP echoes per second to one source (an IPv4 address or an IPv6 /64), at most. No echo
    /// ever goes to serve's own ports, to ports below 1024 or to well-known UDP services.
    #[arg(long, default_value_t = 1000)]
    pub udp_source_rate: u32,
    /// Do not log hits.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Hit log lines per second, at most.
    #[arg(long, default_value_t = 20)]
    pub log_rate: u32,
}

/// `800ms`, `1.5s`, `2s`, `1m`, or a bare number of milliseconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "ms"),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 800ms, 1.5s)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m)")),
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 3600.0 {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn run_probe(a: ProbeArgs) -> anyhow::Result<i32> {
    let ports = parse_port_list(&a.ports).map_err(|e| anyhow::anyhow!("--ports: {e}"))?;
    let udp_ports =
        parse_port_list(&a.udp_ports).map_err(|e| anyhow::anyhow!("--udp-ports: {e}"))?;
    let ping_extra = parse_addr_list(&a.ping_extra, "--ping-extra")?;
    let dns_servers = parse_addr_list(&a.dns_servers, "--dns-servers")?;
    if a.concurrency == 0 {
        anyhow::bail!("--concurrency must be at least 1");
    }
    let fd_limit = probe::raise_fd_limit() as usize;
    // Leave room for the runtime, the output file and the other checks.
    let concurrency = a.concurrency.min(fd_limit.saturating_sub(64).max(1));
    if concurrency < a.concurrency {
        eprintln!(
            "egress-audit: the open-file limit is {fd_limit}; concurrency lowered to {concurrency}"
        );
    }
    let cfg = ProbeConfig {
        family: match (a.ipv4, a.ipv6) {
            (true, _) => Some(probe::Family::V4),
            (_, true) => Some(probe::Family::V6),
            _ => None,
        },
        target: a.target.clone(),
        ports,
        concurrency,
        timeout: a.timeout,
        expect: a.expect.clone(),
        tcp: !a.no_tcp,
        icmp: !a.no_icmp && !a.tcp_only,
        ping_extra,
        dns: !a.no_dns && !a.tcp_only,
        dns_servers,
        dot: !a.no_dot,
        dns_name: a.dns_name.clone(),
        doh: !a.no_doh && !a.tcp_only,
        tls_ca: match &a.tls_ca {
            Some(path) => probe::doh::load_roots(path).context("--tls-ca")?,
            None => Vec::new(),
        },
        udp_ports,
        progress: !a.quiet && std::io::stderr().is_terminal(),
        metadata: !a.no_metadata,
        labels: a.labels.iter().cloned().collect(),
    };
    let rt = super::runtime()?;
    let report = rt.block_on(probe::run(cfg))?;
    let format = a
        .format
        .unwrap_or(if a.output.is_none() && std::io::stdout().is_terminal() {
            ProbeFormat::Table
        } else {
            ProbeFormat::Json
        });
    let text = match format {
        ProbeFormat::Json => probe::output::json(&report),
        ProbeFormat::Table => probe::output::table(&report),
    };
    match &a.output {
        Some(path) => crate::report::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(if report.partial {
        super::EXIT_PARTIAL
    } else {
        super::EXIT_OK
    })
}

/// Comma-separated addresses, or `none`.
fn parse_addr_list(s: &str, flag: &str) -> anyhow::Result<Vec<IpAddr>> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    s.split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|x| {
            x.trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("{flag}: {x:?} is not an address"))
        })
        .collect()
}

pub fn run_serve(a: ServeArgs) -> anyhow::Result<i32> {
    let ports = parse_port_list(&a.ports).map_err(|e| anyhow::anyhow!("--ports: {e}"))?;
    let cfg = ServeConfig {
        bind: a.bind,
        port: a.port,
        ports,
        token: a.token,
        max_conns: a.max_conns.max(1),
        max_conns_per_source: a.max_conns_per_source.unwrap_or(a.max_conns / 2).max(1),
        conn_timeout: a.conn_timeout,
        udp: !a.no_udp,
        udp_rate: a.udp_rate,
        udp_source_rate: a.udp_source_rate,
        quiet: a.quiet,
        log_rate: a.log_rate,
    };
    use std::sync::atomic::Ordering::Relaxed;
    let rt = super::runtime()?;
    let stats = rt.block_on(serve::run(cfg, async {
        let _ = tokio::signal::ctrl_c().await;
    }))?;
    eprintln!(
        "egress-audit serve: stopped after {} tcp hits ({} refused while full, {} over their \
         source's share, {} evicted for a lighter source), {} udp echoes ({} over the rate limit, \
         {} refused by the echo guard)",
        stats.tcp_hits.load(Relaxed),
        stats.tcp_refused_busy.load(Relaxed),
        stats.tcp_refused_source.load(Relaxed),
        stats.tcp_evicted.load(Relaxed),
        stats.udp_echoes.load(Relaxed),
        stats.udp_dropped.load(Relaxed),
        stats.udp_refused.load(Relaxed),
    );
    Ok(super::EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("800ms").unwrap(), Duration::from_millis(800));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3h").is_err());
        assert!(parse_duration("fast").is_err());
    }
}
