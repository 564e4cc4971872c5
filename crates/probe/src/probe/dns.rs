//! DNS straight to public resolvers (udp/53, tcp/53), DNS over TLS (tcp/853), and a lookup through
//! the system resolver. Queries are built by hand: a real DNS answer from the resolver's address
//! means that path leaves the network.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::task::JoinSet;

pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// DNS-over-TLS resolvers: address and the name on their certificate.
pub const DOT_RESOLVERS: [(Ipv4Addr, &str); 4] = [
    (Ipv4Addr::new(1, 1, 1, 1), "cloudflare-dns.com"),
    (Ipv4Addr::new(8, 8, 8, 8), "dns.google"),
    (Ipv4Addr::new(9, 9, 9, 9), "dns.quad9.net"),
    (Ipv4Addr::new(94, 140, 14, 14), "dns.adguard-dns.com"),
];

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DnsResult {
    /// The name asked for.
    pub name: String,
    pub results: Vec<DnsCheck>,
    pub system_resolver: DnsCheck,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DnsCheck {
    /// The resolver's address (`system` for the system resolver).
    pub server: String,
    /// `udp`, `tcp`, `tls` (DoT) or `system`.
    pub transport: String,
    pub port: u16,
    /// `answered` (a DNS response came back), `connected` (tcp/853 connected but no DNS answer
    /// over TLS), `no-answer`, `refused`, `blocked`, `error`.
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl DnsCheck {
    pub fn answered(&self) -> bool {
        self.verdict == "answered"
    }
}

/// All DNS checks at once (each has its own timeout): udp/53 and tcp/53 to each of `servers`,
/// DoT to the well-known resolvers when `dot`, and the system resolver.
pub async fn probe(
    name: &str,
    servers: &[IpAddr],
    dot: bool,
    tls: Arc<tokio_rustls::rustls::ClientConfig>,
) -> DnsResult {
    let mut set = JoinSet::new();
    for (i, ip) in servers.iter().enumerate() {
        let server = SocketAddr::new(*ip, 53);
        let n = name.to_string();
        set.spawn(async move { (i * 3, udp_check(server, &n).await) });
        let n = name.to_string();
        set.spawn(async move { (i * 3 + 1, tcp_check(server, &n).await) });
    }
    for (i, (ip, sni)) in DOT_RESOLVERS.iter().enumerate().filter(|_| dot) {
        let server = SocketAddr::new(IpAddr::V4(*ip), 853);
        let n = name.to_string();
        let sni = sni.to_string();
        let tls = tls.clone();
        set.spawn(async move { (100 + i, dot_check(server, &sni, &n, &tls).await) });
    }
    let system = system_check(name).await;
    let mut results: Vec<(usize, DnsCheck)> = set.join_all().await;
    results.sort_by_key(|r| r.0);
    DnsResult {
        name: name.to_string(),
        results: results.into_iter().map(|r| r.1).collect(),
        system_resolver: system,
    }
}

fn check(server: SocketAddr, transport: &str) -> DnsCheck {
    DnsCheck {
        server: server.ip().to_string(),
        transport: transport.into(),
        port: server.port(),
        verdict: "no-answer".into(),
        rtt_ms: None,
        detail: None,
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Maps a socket error to a verdict: a local firewall refusal is `blocked`.
pub fn error_verdict(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => "blocked",
        Some(libc::ECONNREFUSED | libc::ECONNRESET) => "refused",
        Some(libc::ENETUNREACH | libc::EHOSTUNREACH) => "blocked",
        _ => "error",
    }
}

fn set_result(c: &mut DnsCheck, start: Instant, r: Result<Result<(), String>, std::io::Error>) {
    match r {
        Ok(Ok(())) => {
            c.verdict = "answered".into();
            c.rtt_ms = Some(ms(start.elapsed()));
        }
        Ok(Err(bad)) => {
            c.verdict = "no-answer".into();
            c.detail = Some(bad);
        }
        Err(e) => {
            c.verdict = error_verdict(&e).into();
            c.detail = Some(e.to_string());
        }
    }
}

async fn udp_check(server: SocketAddr, name: &str) -> DnsCheck {
    let mut c = check(server, "udp");
    let start = Instant::now();
    let fut = async {
        let any: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0".parse().expect("literal")
        } else {
            "[::]:0".parse().expect("literal")
        };
        let sock = UdpSocket::bind(any).await?;
        sock.connect(server).await?;
        let (id, q) = query(name);
        sock.send(&q).await?;
        let mut buf = [0u8; 1500];
        loop {
            let n = sock.recv(&mut buf).await?;
            if let Ok(r) = parse_response(&buf[..n], id) {
                return Ok::<_, std::io::Error>(Ok(r));
            }
        }
    };
    match tokio::time::timeout(CHECK_TIMEOUT, fut).await {
        Err(_) => c.detail = Some(format!("no answer in {} s", CHECK_TIMEOUT.as_secs())),
        Ok(r) => set_result(&mut c, start, r.map(|x| x.map(|_| ()))),
    }
    c
}

async fn tcp_check(server: SocketAddr, name: &str) -> DnsCheck {
    let mut c = check(server, "tcp");
    let start = Instant::now();
    let fut = async {
        let mut s = TcpStream::connect(server).await?;
        let (id, q) = query(name);
        exchange_framed(&mut s, &q, id).await
    };
    match tokio::time::timeout(CHECK_TIMEOUT, fut).await {
        Err(_) => c.detail = Some(format!("no answer in {} s", CHECK_TIMEOUT.as_secs())),
        Ok(r) => set_result(&mut c, start, r),
    }
    c
}

/// DNS over a stream: two-byte length prefix (RFC 1035 §4.2.2, RFC 7858).
pub async fn exchange_framed<S>(s: &mut S, q: &[u8], id: u16) -> std::io::Result<Result<(), String>>
where
    S: AsyncReadExt + AsyncWriteExt + Unpin,
{
    let mut msg = (q.len() as u16).to_be_bytes().to_vec();
    msg.extend_from_slice(q);
    s.write_all(&msg).await?;
    s.flush().await?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await?;
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await?;
    Ok(parse_response(&body, id).map(|_| ()))
}

async fn dot_check(
    server: SocketAddr,
    sni: &str,
    name: &str,
    tls: &Arc<tokio_rustls::rustls::ClientConfig>,
) -> DnsCheck {
    let mut c = check(server, "tls");
    let start = Instant::now();
    let connected = std::sync::atomic::AtomicBool::new(false);
    let fut = async {
        let tcp = TcpStream::connect(server).await?;
        connected.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut tls = super::doh::tls_connect(tcp, sni, tls).await?;
        let (id, q) = query(name);
        exchange_framed(&mut tls, &q, id).await
    };
    let r = tokio::time::timeout(CHECK_TIMEOUT, fut).await;
    let was_connected = connected.load(std::sync::atomic::Ordering::Relaxed);
    match r {
        Err(_) => c.detail = Some(format!("no answer in {} s", CHECK_TIMEOUT.as_secs())),
        Ok(r) => set_result(&mut c, start, r),
    }
    if c.verdict != "answered" && was_connected {
        // tcp/853 leaves even when TLS or DNS inside it fails (an interceptor, a wrong cert).
        c.verdict = "connected".into();
    }
    c
}

async fn system_check(name: &str) -> DnsCheck {
    let mut c = DnsCheck {
        server: "system".into(),
        transport: "system".into(),
        port: 53,
        verdict: "no-answer".into(),
        rtt_ms: None,
        detail: None,
    };
    let start = Instant::now();
    match tokio::time::timeout(CHECK_TIMEOUT, tokio::net::lookup_host((name, 0))).await {
        Err(_) => c.detail = Some(format!("no answer in {} s", CHECK_TIMEOUT.as_secs())),
        Ok(Err(e)) => {
            c.verdict = "error".into();
            c.detail = Some(e.to_string());
        }
        Ok(Ok(addrs)) => {
            let addrs: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
            c.verdict = "answered".into();
            c.rtt_ms = Some(ms(start.elapsed()));
            c.detail = Some(addrs.join(", "));
        }
    }
    c
}

/// A recursive `A` query for `name`; returns its id and bytes.
pub fn query(name: &str) -> (u16, Vec<u8>) {
    let id = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id()) as u16;
    (id, query_with_id(name, id))
}

pub fn query_with_id(name: &str, id: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // recursion desired
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
    for label in name.trim_end_matches('.').split('.') {
        let l = &label.as_bytes()[..label.len().min(63)];
        q.push(l.len() as u8);
        q.extend_from_slice(l);
    }
    q.push(0);
    q.extend_from_slice(&[0, 1, 0, 1]); // type A, class IN
    q
}

/// Checks that `msg` is a DNS response to query `id`; returns (rcode, answer count).
pub fn parse_response(msg: &[u8], id: u16) -> Result<(u8, u16), String> {
    if msg.len() < 12 {
        return Err(format!("a {}-byte reply is not a DNS message", msg.len()));
    }
    if u16::from_be_bytes([msg[0], msg[1]]) != id {
        return Err("the reply's id does not match the query".into());
    }
    if msg[2] & 0x80 == 0 {
        return Err("the reply is a query, not a response (an echo?)".into());
    }
    Ok((msg[3] & 0x0f, u16::from_be_bytes([msg[6], msg[7]])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_shape_and_response_check() {
        let q = query_with_id("example.com", 0xabcd);
        assert_eq!(&q[..4], &[0xab, 0xcd, 0x01, 0x00]);
        assert_eq!(&q[12..25], b"\x07example\x03com\x00");
        assert_eq!(q.len(), 12 + 13 + 4);
        // An echoed query is not an answer.
        assert!(parse_response(&q, 0xabcd).unwrap_err().contains("echo"));
        let mut r = q.clone();
        r[2] |= 0x80;
        r[7] = 1;
        assert_eq!(parse_response(&r, 0xabcd), Ok((0, 1)));
        assert!(parse_response(&r, 1).is_err());
        assert!(parse_response(&r[..5], 0xabcd).is_err());
    }
}
