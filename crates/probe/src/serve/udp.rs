//! UDP echo without amplification: a reply is the request's own bytes, never more, and replies
//! are capped per second so a spoofed source cannot turn the server into a flood; who may get
//! an echo at all (never serve's own ports, service ports, a loop, too much to one source) is
//! decided by the [`EchoGuard`](super::echo_guard::EchoGuard) all ports share.
//!
//! Behind TPROXY the datagram keeps the port it was sent to, which the kernel hands over with
//! it (IP_ORIGDSTADDR); the echo then goes out from that very address and port, as the client
//! expects. Behind a plain redirect conntrack rewrites the reply itself, but it maps every port
//! onto one, so a client that reuses a source port for several destination ports clashes.

use super::echo_guard::{EchoGuard, Refusal};
use super::sock::{dual_stack, set_int, sockaddr, udp_bound_to};
use super::{lock, HitLog, ServeConfig, Stats};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::Interest;
use tokio::net::UdpSocket;

const IP_ORIGDSTADDR: libc::c_int = 20;
const IPV6_ORIGDSTADDR: libc::c_int = 74;

/// Asks the kernel for each datagram's original destination (TPROXY). Best effort: without it
/// every datagram counts as sent to the socket's own port.
pub fn want_original_destination(sock: &UdpSocket) {
    let fd = sock.as_raw_fd();
    let v6 = sock.local_addr().is_ok_and(|a| a.is_ipv6());
    // IPv4 clients of a dual-stack socket are IPv4 to the kernel: both levels are asked.
    let mut opts = vec![
        (libc::SOL_IP, libc::IP_TRANSPARENT),
        (libc::SOL_IP, IP_ORIGDSTADDR),
    ];
    if v6 {
        opts.push((libc::SOL_IPV6, libc::IPV6_TRANSPARENT));
        opts.push((libc::SOL_IPV6, IPV6_ORIGDSTADDR));
    }
    for (level, opt) in opts {
        let _ = set_int(fd, level, opt, 1);
    }
}

/// A UDP socket on `addr` for the runtime; on `::` it takes IPv4 too.
pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let sock = udp_bound_to(addr, |fd| {
        if addr.is_ipv6() && addr.ip().is_unspecified() {
            dual_stack(fd)?;
        }
        Ok(())
    })?;
    sock.set_nonblocking(true)?;
    UdpSocket::from_std(sock)
}

pub async fn echo_loop(
    sock: UdpSocket,
    cfg: Arc<ServeConfig>,
    stats: Arc<Stats>,
    hits: Arc<HitLog>,
    guard: Arc<Mutex<EchoGuard>>,
) {
    let own = sock.local_addr().ok();
    let own_port = own.map(|a| a.port()).unwrap_or(0);
    let mut buf = vec![0u8; 2048];
    let mut window = Instant::now();
    let mut sent_in_window = 0u32;
    loop {
        let (n, from, dialled) = match sock
            .async_io(Interest::READABLE, || {
                recv_with_destination(&sock, &mut buf)
            })
            .await
        {
            Ok(x) => x,
            Err(_) => continue,
        };
        if window.elapsed().as_secs() >= 1 {
            window = Instant::now();
            sent_in_window = 0;
        }
        if sent_in_window >= cfg.udp_rate {
            stats.udp_dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let port = dialled.map(|d| d.port()).unwrap_or(own_port);
        // `n` is the datagram's real length (MSG_TRUNC): two datagrams that agree only in the
        // part that fits the buffer are not the same.
        let (whole, n) = (n, n.min(buf.len()));
        if let Err(why) = lock(&guard).admit(from, port, (&buf[..n], whole), Instant::now()) {
            stats.udp_refused.fetch_add(1, Ordering::Relaxed);
            if hits.enabled() && why != Refusal::SourceRate {
                hits.note(&format!(
                    "udp from {from} to port {port} not echoed: {why:?}"
                ));
            }
            continue;
        }
        sent_in_window += 1;
        if hits.enabled() {
            let who = SocketAddr::new(from.ip().to_canonical(), from.port());
            hits.hit(&format!("udp {who} → port {port} ({n} bytes)"));
        }
        // A datagram larger than the buffer was truncated to it: the echo is still no larger.
        let sent = match dialled.filter(|d| d.port() != own_port) {
            Some(d) => send_from(d, &buf[..n], from),
            None => sock.send_to(&buf[..n], from).await.map(|_| ()),
        };
        if sent.is_ok() {
            stats.udp_echoes.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One datagram's real length (however much of it fit in `buf`), its sender, and where it was
/// going (IP_ORIGDSTADDR / IPV6_ORIGDSTADDR).
fn recv_with_destination(
    sock: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<SocketAddr>)> {
    // SAFETY: every pointer handed to recvmsg points into a live local buffer of the length
    // given; the control messages are read only within the length the kernel returned.
    unsafe {
        let mut from: libc::sockaddr_storage = std::mem::zeroed();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut control = [0u64; 16];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&mut from as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        let n = libc::recvmsg(
            sock.as_raw_fd(),
            &mut msg,
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
        );
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let from = sockaddr(&from).ok_or_else(|| io::Error::other("sender of unknown family"))?;
        let mut dialled = None;
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let (level, kind) = ((*c).cmsg_level, (*c).cmsg_type);
            if (level, kind) == (libc::SOL_IP, IP_ORIGDSTADDR)
                || (level, kind) == (libc::SOL_IPV6, IPV6_ORIGDSTADDR)
            {
                let mut ss: libc::sockaddr_storage = std::mem::zeroed();
                let len = ((*c).cmsg_len as usize)
                    .saturating_sub(libc::CMSG_LEN(0) as usize)
                    .min(std::mem::size_of::<libc::sockaddr_storage>());
                std::ptr::copy_nonoverlapping(
                    libc::CMSG_DATA(c),
                    (&mut ss as *mut libc::sockaddr_storage).cast::<u8>(),
                    len,
                );
                dialled = sockaddr(&ss);
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        Ok((n as usize, from, dialled))
    }
}

/// Sends the echo from the address and port the client dialled: a short-lived socket bound
/// there (transparent, so a TPROXY'd address that is not local works too).
fn send_from(source: SocketAddr, data: &[u8], to: SocketAddr) -> io::Result<()> {
    let to = match (source, to.ip()) {
        // The client came in on a dual-stack socket: answer it over IPv4, as it sent.
        (SocketAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), to.port()),
            None => to,
        },
        _ => to,
    };
    let (level, transparent) = match source {
        SocketAddr::V4(_) => (libc::SOL_IP, libc::IP_TRANSPARENT),
        SocketAddr::V6(_) => (libc::SOL_IPV6, libc::IPV6_TRANSPARENT),
    };
    let sock = udp_bound_to(source, |fd| {
        set_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        let _ = set_int(fd, level, transparent, 1);
        Ok(())
    })?;
    sock.send_to(data, to).map(|_| ())
}
