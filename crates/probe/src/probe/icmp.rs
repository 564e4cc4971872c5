//! ICMP echo: through an unprivileged ping socket (`SOCK_DGRAM`/`IPPROTO_ICMP`, allowed by
//! `net.ipv4.ping_group_range`) when the kernel permits it, else a raw socket (root or
//! CAP_NET_RAW). The result says which one was used, or that neither was permitted.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How often an echo request is sent before the target is called silent.
const ATTEMPTS: u16 = 3;
const WAIT: Duration = Duration::from_millis(700);

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IcmpResult {
    /// `datagram` (unprivileged ping socket), `raw`, or `unavailable`.
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub results: Vec<PingResult>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PingResult {
    pub address: String,
    /// `reply`, `no-reply`, `blocked` (the local firewall refused the send), `unreachable`,
    /// `not-tested` or `error`.
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Pings each host (one after the other: a handful of packets).
pub async fn probe(hosts: &[IpAddr]) -> IcmpResult {
    let hosts = hosts.to_vec();
    tokio::task::spawn_blocking(move || probe_blocking(&hosts))
        .await
        .unwrap_or_else(|e| IcmpResult {
            method: "unavailable".into(),
            note: Some(format!("the ping task failed: {e}")),
            results: Vec::new(),
        })
}

fn probe_blocking(hosts: &[IpAddr]) -> IcmpResult {
    let mut method = None;
    let mut notes = Vec::new();
    let mut results = Vec::new();
    for &host in hosts {
        match Socket::open(host.is_ipv6()) {
            Ok(sock) => {
                method.get_or_insert(sock.kind);
                results.push(sock.ping(host));
            }
            Err(e) => {
                notes.push(e.clone());
                results.push(PingResult {
                    address: host.to_string(),
                    verdict: "not-tested".into(),
                    rtt_ms: None,
                    detail: Some(e),
                });
            }
        }
    }
    IcmpResult {
        method: method.unwrap_or("unavailable").into(),
        note: (!notes.is_empty()).then(|| notes.join("; ")),
        results,
    }
}

struct Socket {
    fd: libc::c_int,
    kind: &'static str,
    v6: bool,
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: fd is a socket this struct opened and owns.
        unsafe { libc::close(self.fd) };
    }
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

impl Socket {
    fn open(v6: bool) -> Result<Socket, String> {
        let (domain, proto) = if v6 {
            (libc::AF_INET6, libc::IPPROTO_ICMPV6)
        } else {
            (libc::AF_INET, libc::IPPROTO_ICMP)
        };
        // SAFETY: plain socket(2) calls; the fd is owned by the returned Socket.
        let fd = unsafe { libc::socket(domain, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, proto) };
        if fd >= 0 {
            return Ok(Socket {
                fd,
                kind: "datagram",
                v6,
            });
        }
        let dgram_err = errno();
        // SAFETY: as above.
        let fd = unsafe { libc::socket(domain, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
        if fd >= 0 {
            return Ok(Socket {
                fd,
                kind: "raw",
                v6,
            });
        }
        let raw_err = errno();
        Err(format!(
            "neither an unprivileged ping socket ({dgram_err}; see net.ipv4.ping_group_range) \
             nor a raw socket ({raw_err}; needs root or CAP_NET_RAW) is permitted"
        ))
    }

    fn ping(&self, host: IpAddr) -> PingResult {
        let mut out = PingResult {
            address: host.to_string(),
            verdict: "no-reply".into(),
            rtt_ms: None,
            detail: None,
        };
        if let Err(e) = self.connect(host) {
            out.verdict = classify_send_error(&e).into();
            out.detail = Some(e.to_string());
            return out;
        }
        let ident = (std::process::id() & 0xffff) as u16;
        for seq in 1..=ATTEMPTS {
            let packet = echo_request(self.v6, ident, seq);
            let sent = Instant::now();
            // SAFETY: packet outlives the call; fd is a connected socket.
            let n = unsafe { libc::send(self.fd, packet.as_ptr().cast(), packet.len(), 0) };
            if n < 0 {
                let e = errno();
                out.verdict = classify_send_error(&e).into();
                out.detail = Some(format!("send: {e}"));
                return out;
            }
            match self.wait_reply(ident, seq, sent) {
                Ok(Some(rtt)) => {
                    out.verdict = "reply".into();
                    out.rtt_ms = Some((rtt.as_secs_f64() * 1e6).round() / 1e3);
                    return out;
                }
                Ok(None) => {}
                Err(e) => {
                    out.verdict = classify_send_error(&e).into();
                    out.detail = Some(format!("receive: {e}"));
                    return out;
                }
            }
        }
        out
    }

    fn connect(&self, host: IpAddr) -> std::io::Result<()> {
        let rc = match host {
            IpAddr::V4(a) => {
                let sa = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: 0,
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sa is a valid sockaddr_in of the length given.
                unsafe {
                    libc::connect(
                        self.fd,
                        (&sa as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                }
            }
            IpAddr::V6(a) => {
                let sa = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: 0,
                    sin6_flowinfo: 0,
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.octets(),
                    },
                    sin6_scope_id: 0,
                };
                // SAFETY: sa is a valid sockaddr_in6 of the length given.
                unsafe {
                    libc::connect(
                        self.fd,
                        (&sa as *const libc::sockaddr_in6).cast(),
                        std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    )
                }
            }
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(errno())
        }
    }

    /// Waits up to [`WAIT`] for the echo reply to `seq`; other ICMP is skipped.
    fn wait_reply(&self, ident: u16, seq: u16, sent: Instant) -> std::io::Result<Option<Duration>> {
        let deadline = sent + WAIT;
        let mut buf = [0u8; 1500];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as libc::c_int) };
            if rc < 0 {
                let e = errno();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if rc == 0 {
                return Ok(None);
            }
            // SAFETY: buf is writable for its length.
            let n = unsafe { libc::recv(self.fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(errno());
            }
            let mut msg = &buf[..n as usize];
            // Raw IPv4 sockets hand over the IP header too.
            if self.kind == "raw" && !self.v6 && !msg.is_empty() {
                let ihl = ((msg[0] & 0x0f) as usize) * 4;
                if msg.len() < ihl {
                    continue;
                }
                msg = &msg[ihl..];
            }
            if msg.len() < 8 {
                continue;
            }
            let reply_type = if self.v6 { 129 } else { 0 };
            let r_ident = u16::from_be_bytes([msg[4], msg[5]]);
            let r_seq = u16::from_be_bytes([msg[6], msg[7]]);
            // Ping sockets rewrite the identifier themselves; raw sockets see everyone's ICMP.
            let ident_ok = self.kind == "datagram" || r_ident == ident;
            if msg[0] == reply_type && ident_ok && r_seq == seq {
                return Ok(Some(sent.elapsed()));
            }
        }
    }
}

fn classify_send_error(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => "blocked",
        Some(libc::ENETUNREACH | libc::EHOSTUNREACH | libc::ECONNREFUSED) => "unreachable",
        _ => "error",
    }
}

/// An echo request with a checksum (the kernel fills it in for ICMPv6 and for ping sockets).
pub fn echo_request(v6: bool, ident: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"egress-audit probe");
    if !v6 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32)
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_checksum_verifies() {
        let p = echo_request(false, 0x1234, 7);
        assert_eq!(p[0], 8);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
    }
}
