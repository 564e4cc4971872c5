//! `egress-audit serve`: answer on every TCP port and echo UDP, for self-hosted probes.
//!
//! The answer is letmeoutofyour.net's (an HTTP 200 whose body is the token, `w00tw00t`), plus
//! headers that name the port the client really dialled (`X-Egress-Port`, from SO_ORIGINAL_DST
//! behind an nftables/iptables redirect) and the address it came from (`X-Egress-Source`), so a
//! probe can tell port rewriting and NAT. UDP datagrams are echoed, never larger than they came,
//! and only where an echo cannot start a loop or a reflection ([`echo_guard`]). Connections (in
//! all and per source), memory (a read cap) and time per connection are bounded, a request head
//! that is not complete within [`HEAD_DEADLINE`] is answered anyway, and a full server gives a
//! newcomer from a lighter source the slot of the heaviest source's oldest connection
//! ([`limits`]).

pub mod echo_guard;
pub mod limits;
mod log;
mod sock;
mod udp;

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

pub use log::HitLog;

/// The most of a request that is read (the rest is ignored).
pub const READ_CAP: usize = 8 * 1024;
/// How long a client that sends nothing is waited for before it gets the answer anyway.
const GREETING_WAIT: Duration = Duration::from_millis(500);
/// How long a request head may take in all, from the accept: then it is answered anyway (the
/// answer does not depend on it), so a client that trickles bytes holds its slot no longer.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(1);

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub bind: IpAddr,
    /// The port a redirect rule sends every other port to.
    pub port: u16,
    /// Extra ports bound directly (no redirect needed).
    pub ports: Vec<u16>,
    pub token: String,
    pub max_conns: usize,
    pub conn_timeout: Duration,
    pub udp: bool,
    /// UDP echoes per second, at most (a reflector must not be a flood).
    pub udp_rate: u32,
    /// UDP echoes per second to one source (an IPv4 address or an IPv6 /64), at most.
    pub udp_source_rate: u32,
    /// Connections one source (an IPv4 address or an IPv6 /64) may hold at once.
    pub max_conns_per_source: usize,
    pub quiet: bool,
    /// Hit log lines per second, at most.
    pub log_rate: u32,
}

/// Counters, printed at the end.
#[derive(Default, Debug)]
pub struct Stats {
    pub tcp_hits: AtomicU64,
    pub tcp_refused_busy: AtomicU64,
    pub udp_echoes: AtomicU64,
    pub udp_dropped: AtomicU64,
    /// Datagrams not echoed by the [`echo_guard`]: to an own or service port, a loop, or over
    /// the per-source rate.
    pub udp_refused: AtomicU64,
    /// Connections closed at once because their source held its share already.
    pub tcp_refused_source: AtomicU64,
    /// Connections closed to give their slot to a source holding fewer ([`limits`]).
    pub tcp_evicted: AtomicU64,
}

/// The nftables rules that send every TCP and UDP port (but ssh) to `port` on `bind`: IPv4
/// rules for an IPv4 address, IPv6 rules for an IPv6 one, and both (one `inet` table) for `::`,
/// which takes both families.
///
/// TPROXY, not REDIRECT: a redirect NATs every port onto one, so a client that reuses a source
/// port for two destination ports (a full sweep does, thousands of times) maps to the same
/// connection twice, and conntrack drops the second SYN or datagram. With TPROXY there is no NAT:
/// the listener (IP_TRANSPARENT) gets each connection with the port really dialled as its local
/// address, and each datagram with its original destination (IP_ORIGDSTADDR).
pub fn redirect_rules(port: u16, bind: IpAddr) -> String {
    let (family, tproxy, iptables) = match bind {
        IpAddr::V4(_) => ("ip", vec!["tproxy"], "iptables"),
        IpAddr::V6(a) if a.is_unspecified() => (
            "inet",
            vec!["tproxy ip", "tproxy ip6"],
            "iptables/ip6tables",
        ),
        IpAddr::V6(_) => ("ip6", vec!["tproxy"], "ip6tables"),
    };
    let t = format!("nft add rule {family} egress_audit");
    // nft 1.0.6 takes no chain named `tproxy`.
    let mut out = format!(
        "nft add table {family} egress_audit\n\
         nft add chain {family} egress_audit divert \
         '{{ type filter hook prerouting priority mangle; }}'\n"
    );
    for proto in ["tcp", "udp"] {
        for tp in &tproxy {
            out += &format!("{t} divert {proto} dport != 22 {tp} to :{port}\n");
        }
    }
    out += &format!(
        "(undo: nft delete table {family} egress_audit. A plain redirect also works, the port read\n \
         back with SO_ORIGINAL_DST, but full sweeps then lose SYNs and datagrams to conntrack clashes:\n \
         nft add chain {family} egress_audit nat_redirect '{{ type nat hook prerouting priority dstnat; }}'\n \
         {t} nat_redirect tcp dport != 22 redirect to :{port}\n \
         {t} nat_redirect udp dport != 22 redirect to :{port}\n \
         or {iptables} -t nat -A PREROUTING -p tcp ! --dport 22 -j REDIRECT --to-ports {port}, \
         and the same with -p udp.)"
    );
    out
}

/// A listener with a deep backlog (a sweep opens thousands of connections at once), made
/// transparent when `transparent` (TPROXY) and permitted; returns whether it is transparent.
fn listen_tcp(addr: SocketAddr, transparent: bool) -> std::io::Result<(TcpListener, bool)> {
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    if addr.ip().is_unspecified() && addr.is_ipv6() {
        // `::` takes IPv4 too, whatever net.ipv6.bindv6only says.
        sock::dual_stack(sock.as_raw_fd())?;
    }
    let mut is_transparent = false;
    if transparent {
        let (level, opt) = if addr.is_ipv4() {
            (libc::SOL_IP, libc::IP_TRANSPARENT)
        } else {
            (libc::SOL_IPV6, libc::IPV6_TRANSPARENT)
        };
        is_transparent = sock::set_int(sock.as_raw_fd(), level, opt, 1).is_ok();
    }
    sock.bind(addr)?;
    Ok((sock.listen(4096)?, is_transparent))
}

/// Binds everything, then serves until Ctrl-C (or `stop` resolves).
pub async fn run(
    cfg: ServeConfig,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<Arc<Stats>> {
    let limit = crate::probe::raise_fd_limit() as usize;
    let mut cfg = cfg;
    let budget = limit.saturating_sub(64 + 2 * (1 + cfg.ports.len()));
    if cfg.max_conns > budget {
        eprintln!(
            "egress-audit serve: the open-file limit ({limit}) allows {budget} connections, not {}",
            cfg.max_conns
        );
        cfg.max_conns = budget.max(1);
    }
    let cfg = Arc::new(cfg);
    let stats = Arc::new(Stats::default());
    let hits = Arc::new(HitLog::new(cfg.log_rate, cfg.quiet));
    let sem = Arc::new(Semaphore::new(cfg.max_conns));
    let slots = limits::SourceSlots::new(cfg.max_conns_per_source);
    let mut ports = vec![cfg.port];
    ports.extend(cfg.ports.iter().copied().filter(|&p| p != cfg.port));
    let guard = Arc::new(Mutex::new(echo_guard::EchoGuard::new(
        &ports,
        cfg.udp_source_rate,
    )));
    let mut tasks = tokio::task::JoinSet::new();
    for &p in &ports {
        let addr = SocketAddr::new(cfg.bind, p);
        let (listener, transparent) = listen_tcp(addr, p == cfg.port)
            .map_err(|e| anyhow::anyhow!("cannot listen on tcp {addr}: {e}"))?;
        if p == cfg.port && !transparent {
            eprintln!(
                "egress-audit serve: port {p} is not transparent (IP_TRANSPARENT needs root or \
                 CAP_NET_ADMIN): use the redirect rule, not TPROXY"
            );
        }
        tasks.spawn(accept_loop(
            listener,
            cfg.clone(),
            (sem.clone(), slots.clone()),
            stats.clone(),
            hits.clone(),
        ));
        if cfg.udp {
            match udp::bind(addr) {
                Ok(s) => {
                    if p == cfg.port {
                        udp::want_original_destination(&s);
                    }
                    tasks.spawn(udp::echo_loop(
                        s,
                        cfg.clone(),
                        stats.clone(),
                        hits.clone(),
                        guard.clone(),
                    ));
                }
                Err(e) => eprintln!("egress-audit serve: no udp echo on {addr}: {e}"),
            }
        }
    }
    eprintln!(
        "egress-audit serve: answering {:?} on tcp{} port {}{} (at most {} connections, {} per \
         source, {} s each)",
        cfg.token,
        if cfg.udp { "+udp" } else { "" },
        cfg.port,
        if cfg.ports.is_empty() {
            String::new()
        } else {
            format!(" and {} bound ports", cfg.ports.len())
        },
        cfg.max_conns,
        cfg.max_conns_per_source,
        cfg.conn_timeout.as_secs_f64(),
    );
    eprintln!(
        "to answer on every port, redirect them to port {}:\n{}",
        cfg.port,
        redirect_rules(cfg.port, cfg.bind)
    );
    eprintln!("egress-audit serve: ready");
    stop.await;
    tasks.abort_all();
    Ok(stats)
}

async fn accept_loop(
    listener: TcpListener,
    cfg: Arc<ServeConfig>,
    (sem, slots): (Arc<Semaphore>, Arc<limits::SourceSlots>),
    stats: Arc<Stats>,
    hits: Arc<HitLog>,
) {
    let own_port = listener.local_addr().map(|a| a.port()).unwrap_or(cfg.port);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors or a transient error: wait instead of spinning.
                hits.note(&format!("accept: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // A source that holds its share already is refused before it takes a global slot, so
        // that one busy (or hostile) host cannot keep the others out. When every slot is taken,
        // a lighter source takes one from the heaviest ([`limits`]), so that a few hosts cannot
        // keep the others out either.
        let permit = sem.clone().try_acquire_owned().ok();
        let taken = match slots.take(peer.ip(), permit.is_none()) {
            Ok(t) => t,
            Err(why) => {
                let counter = match why {
                    limits::Refusal::Source => &stats.tcp_refused_source,
                    // Full: close at once rather than queue without bound.
                    limits::Refusal::Busy => &stats.tcp_refused_busy,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                drop(stream);
                continue;
            }
        };
        if taken.took_over {
            stats.tcp_evicted.fetch_add(1, Ordering::Relaxed);
        }
        let (cfg, stats, hits, sem) = (cfg.clone(), stats.clone(), hits.clone(), sem.clone());
        tokio::spawn(async move {
            let limits::Taken { slot, evicted, .. } = taken;
            let serve = async {
                // Taken over from an evicted connection: its global slot is ours when it has
                // closed (at its next await; the semaphore hands permits to waiters in order,
                // so no other accept takes it first).
                let _permit = match permit {
                    Some(p) => p,
                    None => match sem.acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => return,
                    },
                };
                handle(stream, peer, own_port, &cfg, &stats, &hits, &slot).await;
            };
            tokio::select! {
                _ = tokio::time::timeout(cfg.conn_timeout, serve) => {}
                // Evicted: the connection (and its permit) is dropped here, its slot just after.
                _ = evicted => {}
            }
        });
    }
}

async fn handle(
    mut stream: TcpStream,
    peer: SocketAddr,
    own_port: u16,
    cfg: &ServeConfig,
    stats: &Stats,
    hits: &HitLog,
    slot: &limits::SourceSlot,
) {
    let local = stream.local_addr().ok();
    // Behind TPROXY the local address is the one dialled; behind a redirect every connection
    // lands on the listener's own port and the kernel keeps the original (SO_ORIGINAL_DST).
    let dialled = match local {
        Some(l) if l.port() != own_port => l.port(),
        Some(l) => original_dst(&stream, l).unwrap_or(l).port(),
        None => cfg.port,
    };
    // A dual-stack socket names IPv4 clients by their mapped address (::ffff:a.b.c.d).
    let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
    stats.tcp_hits.fetch_add(1, Ordering::Relaxed);
    if hits.enabled() {
        hits.hit(&format!("tcp {} → port {dialled}", peer));
    }
    if read_head(&mut stream).await.is_err() {
        return;
    }
    slot.answering();
    let body = &cfg.token;
    let response = format!(
        "HTTP/1.1 200 OK\r\nServer: egress-audit\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\nX-Egress-Port: {dialled}\r\n\
         X-Egress-Source: {}\r\nX-Egress-Source-Port: {}\r\n\r\n{body}",
        body.len(),
        peer.ip(),
        peer.port()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Reads the request head (bounded) so that the answer does not race it: until its end, however
/// it is split across reads, or GREETING_WAIT of silence (a silent client gets the answer, as
/// with a banner), or HEAD_DEADLINE from the start (a client that trickles), or READ_CAP bytes.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<()> {
    let deadline = tokio::time::Instant::now() + HEAD_DEADLINE;
    let mut buf = [0u8; 1024];
    let mut end = limits::HeadEnd::default();
    let mut seen = 0usize;
    while seen < READ_CAP {
        let wait = if seen == 0 {
            (tokio::time::Instant::now() + GREETING_WAIT).min(deadline)
        } else {
            deadline
        };
        match tokio::time::timeout_at(wait, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => {
                seen += n;
                if end.feed(&buf[..n]) {
                    break;
                }
            }
            Ok(Err(e)) => return Err(e),
        }
    }
    Ok(())
}

/// The destination the client dialled before a NAT redirect (SO_ORIGINAL_DST), if any; `local`
/// is the connection's local address.
pub fn original_dst(stream: &TcpStream, local: SocketAddr) -> Option<SocketAddr> {
    // IP6T_SO_ORIGINAL_DST is 80 at SOL_IPV6 too.
    const SO_ORIGINAL_DST: libc::c_int = 80;
    // An IPv4 client of a dual-stack (`::`) socket is IPv4 to conntrack: it is asked at SOL_IP.
    let level = match local.ip() {
        IpAddr::V6(a) if a.to_ipv4_mapped().is_none() => libc::SOL_IPV6,
        _ => libc::SOL_IP,
    };
    // SAFETY: sockaddr_storage is plain old data, for which all-zero bytes are a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: the fd is the stream's open socket for the whole call; `ss` is a live, writable
    // sockaddr_storage of `len` bytes, and getsockopt writes at most `len` bytes into it.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            level,
            SO_ORIGINAL_DST,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    sock::sockaddr(&ss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn redirect_rules_follow_the_bind_family() {
        let v4 = redirect_rules(8421, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert!(v4.starts_with("nft add table ip egress_audit\n"), "{v4}");
        assert!(
            v4.contains("nft add rule ip egress_audit divert tcp dport != 22 tproxy to :8421\n"),
            "{v4}"
        );
        assert!(!v4.contains("ip6"), "{v4}");

        let any = redirect_rules(8421, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        assert!(
            any.starts_with("nft add table inet egress_audit\n"),
            "{any}"
        );
        for tp in ["tproxy ip to :8421", "tproxy ip6 to :8421"] {
            assert!(
                any.contains(&format!(
                    "nft add rule inet egress_audit divert tcp dport != 22 {tp}\n"
                )),
                "{any}"
            );
        }
        assert!(
            any.contains(
                "nft add rule inet egress_audit divert udp dport != 22 tproxy ip6 to :8421"
            ),
            "{any}"
        );
        // The redirect is only the printed alternative (indented), not a rule to run.
        assert!(
            any.lines()
                .filter(|l| l.starts_with("nft "))
                .all(|l| !l.contains("redirect")),
            "{any}"
        );
        assert!(
            any.contains(
                " nft add rule inet egress_audit nat_redirect udp dport != 22 redirect to :8421"
            ),
            "{any}"
        );

        let v6 = redirect_rules(8421, "fd00:213::2".parse().unwrap());
        assert!(v6.starts_with("nft add table ip6 egress_audit\n"), "{v6}");
        assert!(
            v6.contains("nft add rule ip6 egress_audit divert tcp dport != 22 tproxy to :8421\n"),
            "{v6}"
        );
        assert!(v6.contains("ip6tables -t nat"), "{v6}");
        assert!(!v6.contains("iptables/"), "{v6}");
    }
}
