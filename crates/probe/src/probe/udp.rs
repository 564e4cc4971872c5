//! UDP ports against a `serve` target, which echoes every datagram (never larger than it came).

use super::{is_resource_exhaustion, PortRanges};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::task::JoinSet;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UdpResult {
    pub ports_tested: u32,
    /// Our datagram came back as sent.
    pub echoed: PortRanges,
    /// Something else answered (a DNS interceptor, another service).
    pub answered: PortRanges,
    /// An ICMP port unreachable came back.
    pub rejected: PortRanges,
    /// The local firewall refused the send.
    pub blocked: PortRanges,
    /// No answer, twice.
    pub silent: PortRanges,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UdpVerdict {
    Echoed,
    Answered,
    Rejected,
    Blocked,
    Silent,
    Backpressure,
}

pub async fn probe(
    address: IpAddr,
    ports: &[u16],
    concurrency: usize,
    timeout: Duration,
) -> UdpResult {
    let mut set = JoinSet::new();
    let mut queue: std::collections::VecDeque<u16> = ports.iter().copied().collect();
    let mut found: Vec<(u16, UdpVerdict)> = Vec::new();
    let cap = concurrency.max(1);
    loop {
        while set.len() >= cap || (queue.is_empty() && !set.is_empty()) {
            match set.join_next().await {
                Some(Ok((p, UdpVerdict::Backpressure))) => queue.push_back(p),
                Some(Ok(r)) => found.push(r),
                Some(Err(_)) | None => break,
            }
        }
        let Some(port) = queue.pop_front() else {
            break;
        };
        set.spawn(async move { (port, one(SocketAddr::new(address, port), timeout).await) });
    }
    let pick =
        |v: UdpVerdict| PortRanges::from_ports(found.iter().filter(|r| r.1 == v).map(|r| r.0));
    UdpResult {
        ports_tested: found.len() as u32,
        echoed: pick(UdpVerdict::Echoed),
        answered: pick(UdpVerdict::Answered),
        rejected: pick(UdpVerdict::Rejected),
        blocked: pick(UdpVerdict::Blocked),
        silent: pick(UdpVerdict::Silent),
    }
}

async fn one(to: SocketAddr, timeout: Duration) -> UdpVerdict {
    let bind: SocketAddr = if to.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let sock = match UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) if is_resource_exhaustion(&e) => {
            tokio::time::sleep(Duration::from_millis(10)).await;
            return UdpVerdict::Backpressure;
        }
        Err(_) => return UdpVerdict::Blocked,
    };
    if let Err(e) = sock.connect(to).await {
        return error_verdict(&e);
    }
    // Each try says which it is: serve does not echo the very bytes it has just echoed to the
    // same sender (that is how it breaks echo loops), and a late echo of the first try still
    // counts.
    let payloads: Vec<String> = (1..=2)
        .map(|t| format!("egress-audit udp probe to port {}, try {t}", to.port()))
        .collect();
    let mut buf = [0u8; 2048];
    // Two tries: one lost datagram should not make a port look silent.
    for payload in &payloads {
        if let Err(e) = sock.send(payload.as_bytes()).await {
            return error_verdict(&e);
        }
        match tokio::time::timeout(timeout, sock.recv(&mut buf)).await {
            Err(_) => continue,
            Ok(Err(e)) => return error_verdict(&e),
            Ok(Ok(n)) if payloads.iter().any(|p| &buf[..n] == p.as_bytes()) => {
                return UdpVerdict::Echoed
            }
            Ok(Ok(_)) => return UdpVerdict::Answered,
        }
    }
    UdpVerdict::Silent
}

fn error_verdict(e: &std::io::Error) -> UdpVerdict {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED | libc::EHOSTUNREACH | libc::ENETUNREACH) => UdpVerdict::Rejected,
        _ if is_resource_exhaustion(e) => UdpVerdict::Backpressure,
        _ => UdpVerdict::Blocked,
    }
}
