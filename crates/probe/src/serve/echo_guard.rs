//! Whom a UDP echo may go to. An echo server answers whatever source a datagram claims, and UDP
//! sources are trivially spoofed: one datagram "from" another echo service (or from serve's own
//! port) starts a loop that only a rate limit ends. So serve never echoes
//! - to one of its own ports (the loop with itself),
//! - to a system or a well-known service port ([`is_service_port`]), where something that answers
//!   unsolicited datagrams may listen (the loop or reflection to another service),
//! - the same bytes back to a peer it has just echoed them to, on the same port, within
//!   [`LOOP_WINDOW`] (the loop with another echo server that answers on every port, as a serve
//!   behind TPROXY does; the probe changes its payload when it tries again),
//! - more than `per_source_rate` datagrams a second to one source (an IPv4 address or an IPv6
//!   /64), so that one source, spoofed or not, takes neither the whole budget nor a flood.
//!
//! Memory is bounded: at most [`MAX_TRACKED`] sources and recent echoes are kept.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Source ports at and above 1024 that are never echoed to: registered UDP services that answer
/// unsolicited datagrams and so reflect or loop (the amplification vectors in CISA's alert
/// TA14-017A and later ones), and serve's default port (another serve). Kept below 32768, the
/// start of Linux's ephemeral range, so that no client's own source port is refused (Windows
/// and macOS pick theirs from 49152 up).
pub const SERVICE_PORTS: &[u16] = &[
    1194,  // OpenVPN
    1434,  // MS SQL Server browser
    1900,  // SSDP
    3283,  // Apple Remote Desktop
    3478,  // STUN / TURN
    3479,  // STUN / TURN
    3702,  // WS-Discovery
    4500,  // IPsec NAT traversal
    5060,  // SIP
    5061,  // SIP over TLS/DTLS
    5351,  // NAT-PMP / PCP
    5353,  // mDNS
    5683,  // CoAP
    6881,  // BitTorrent DHT
    8421,  // egress-audit serve (default port)
    10001, // Ubiquiti discovery
    11211, // memcached
    17185, // VxWorks debug (WDB)
    27015, // Steam / Source game servers
    27960, // Quake III
];

/// How long a sent echo is remembered, to recognise it coming back.
pub const LOOP_WINDOW: Duration = Duration::from_secs(2);
/// Sources and recent echoes kept at most (each table).
pub const MAX_TRACKED: usize = 4096;

/// Whether `port` is a system port (below 1024: echo 7, chargen 19, DNS 53, NTP 123, SNMP 161,
/// ...) or one of [`SERVICE_PORTS`].
pub fn is_service_port(port: u16) -> bool {
    port < 1024 || SERVICE_PORTS.contains(&port)
}

/// Why a datagram is not echoed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The source port is one serve answers on.
    OwnPort,
    /// The source port is a system or well-known service port.
    ServicePort,
    /// The same bytes were just echoed to this source from this port: an echo loop.
    Loop,
    /// The source has had its echoes for this second.
    SourceRate,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct EchoGuard {
    own_ports: Vec<u16>,
    per_source_rate: u32,
    sources: HashMap<SourceKey, Bucket>,
    /// (peer, local port) → (hash of the bytes echoed, when).
    recent: HashMap<(SocketAddr, u16), (u64, Instant)>,
}

/// An IPv4 address, or an IPv6 /64 (one host commonly holds a whole /64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceKey(u128);

impl SourceKey {
    pub fn of(ip: IpAddr) -> SourceKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => SourceKey(u32::from(v4) as u128),
            IpAddr::V6(v6) => SourceKey((u128::from(v6) & !((1u128 << 64) - 1)) | 1),
        }
    }
}

impl EchoGuard {
    pub fn new(own_ports: &[u16], per_source_rate: u32) -> EchoGuard {
        EchoGuard {
            own_ports: own_ports.to_vec(),
            per_source_rate: per_source_rate.max(1),
            sources: HashMap::new(),
            recent: HashMap::new(),
        }
    }

    /// Whether a datagram from `from`, received on `local_port`, may be echoed now; `payload`
    /// is what was read of it and its whole length. When it may, the echo is counted against
    /// the source and remembered.
    pub fn admit(
        &mut self,
        from: SocketAddr,
        local_port: u16,
        payload: (&[u8], usize),
        now: Instant,
    ) -> Result<(), Refusal> {
        if self.own_ports.contains(&from.port()) {
            return Err(Refusal::OwnPort);
        }
        if is_service_port(from.port()) {
            return Err(Refusal::ServicePort);
        }
        let peer = SocketAddr::new(from.ip().to_canonical(), from.port());
        let digest = digest(payload);
        if let Some(&(seen, at)) = self.recent.get(&(peer, local_port)) {
            if seen == digest && now.saturating_duration_since(at) < LOOP_WINDOW {
                return Err(Refusal::Loop);
            }
        }
        self.take_token(SourceKey::of(peer.ip()), now)?;
        if self.recent.len() >= MAX_TRACKED {
            self.recent
                .retain(|_, (_, at)| now.saturating_duration_since(*at) < LOOP_WINDOW);
        }
        if self.recent.len() < MAX_TRACKED {
            self.recent.insert((peer, local_port), (digest, now));
        }
        Ok(())
    }

    /// A token bucket per source: `per_source_rate` a second, as much at once.
    fn take_token(&mut self, key: SourceKey, now: Instant) -> Result<(), Refusal> {
        let rate = self.per_source_rate as f64;
        if !self.sources.contains_key(&key) && self.sources.len() >= MAX_TRACKED {
            // Forget the sources whose bucket is full again: they are as good as new.
            self.sources
                .retain(|_, b| now.saturating_duration_since(b.at) < Duration::from_secs(1));
            if self.sources.len() >= MAX_TRACKED {
                return Err(Refusal::SourceRate);
            }
        }
        let b = self.sources.entry(key).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * rate;
        b.tokens = (b.tokens + refill).min(rate);
        b.at = now;
        if b.tokens < 1.0 {
            return Err(Refusal::SourceRate);
        }
        b.tokens -= 1.0;
        Ok(())
    }
}

fn digest((bytes, whole): (&[u8], usize)) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    whole.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn d(b: &[u8]) -> (&[u8], usize) {
        (b, b.len())
    }

    #[test]
    fn own_and_service_ports_are_never_echoed_to() {
        let mut g = EchoGuard::new(&[18001, 18002], 100);
        let now = Instant::now();
        assert_eq!(
            g.admit(at("127.0.0.1:18001"), 18002, d(b"x"), now),
            Err(Refusal::OwnPort)
        );
        assert_eq!(
            g.admit(at("127.0.0.1:18002"), 18002, d(b"x"), now),
            Err(Refusal::OwnPort)
        );
        for port in [7, 19, 53, 123, 161, 1023, 1900, 5353, 8421, 11211] {
            let from = SocketAddr::new("192.0.2.9".parse().unwrap(), port);
            assert_eq!(
                g.admit(from, 18002, d(b"x"), now),
                Err(Refusal::ServicePort),
                "{port}"
            );
        }
        assert_eq!(g.admit(at("192.0.2.9:40000"), 18002, d(b"x"), now), Ok(()));
        assert!(SERVICE_PORTS.iter().all(|&p| (1024..32768).contains(&p)));
    }

    #[test]
    fn the_same_bytes_back_from_the_same_peer_are_a_loop() {
        let mut g = EchoGuard::new(&[8421], 100);
        let t0 = Instant::now();
        let peer = at("198.51.100.7:40000");
        assert_eq!(g.admit(peer, 5000, d(b"probe"), t0), Ok(()));
        let soon = t0 + Duration::from_millis(5);
        assert_eq!(g.admit(peer, 5000, d(b"probe"), soon), Err(Refusal::Loop));
        // Other bytes, another port of ours, or after the window: echoed.
        assert_eq!(g.admit(peer, 5000, d(b"probe, try 2"), soon), Ok(()));
        assert_eq!(g.admit(peer, 5001, d(b"probe"), soon), Ok(()));
        assert_eq!(
            g.admit(peer, 5000, d(b"probe"), t0 + LOOP_WINDOW * 2),
            Ok(())
        );
        // Datagrams larger than the buffer that agree in what fits are still different.
        let long = [7u8; 2048];
        assert_eq!(g.admit(peer, 5002, (&long, 4000), soon), Ok(()));
        assert_eq!(g.admit(peer, 5002, (&long, 60000), soon), Ok(()));
        assert_eq!(
            g.admit(peer, 5002, (&long, 60000), soon),
            Err(Refusal::Loop)
        );
    }

    #[test]
    fn one_source_gets_its_rate_and_others_theirs() {
        let mut g = EchoGuard::new(&[8421], 10);
        let t0 = Instant::now();
        let echoed = (0..50u16)
            .filter(|i| {
                let from = SocketAddr::new("203.0.113.5".parse().unwrap(), 40000 + i);
                g.admit(from, 5000, d(&i.to_be_bytes()), t0).is_ok()
            })
            .count();
        assert_eq!(echoed, 10);
        assert_eq!(g.admit(at("203.0.113.6:40000"), 5000, d(b"a"), t0), Ok(()));
        // An IPv6 /64 is one source.
        let v6: Vec<_> = (0..20u16)
            .map(|i| at(&format!("[2001:db8:1:2::{i:x}]:40000")))
            .collect();
        let ok = v6
            .iter()
            .filter(|&&p| g.admit(p, 5000, d(b"v6"), t0).is_ok())
            .count();
        assert_eq!(ok, 10);
        // A second later the bucket is full again.
        let later = t0 + Duration::from_secs(1);
        assert_eq!(
            g.admit(at("203.0.113.5:41000"), 5000, d(b"again"), later),
            Ok(())
        );
    }

    #[test]
    fn memory_is_bounded_under_spoofed_sources() {
        let mut g = EchoGuard::new(&[8421], 1000);
        let t0 = Instant::now();
        for i in 0..(3 * MAX_TRACKED as u32) {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            let _ = g.admit(SocketAddr::new(ip.into(), 40000), 5000, d(b"x"), t0);
        }
        assert!(g.sources.len() <= MAX_TRACKED && g.recent.len() <= MAX_TRACKED);
        // Once the buckets are full again, new sources are taken.
        let later = t0 + Duration::from_secs(2);
        assert_eq!(g.admit(at("192.0.2.1:40000"), 5000, d(b"x"), later), Ok(()));
    }
}
