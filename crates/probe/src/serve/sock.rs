//! Raw socket plumbing shared by the TCP and UDP listeners: integer socket options and
//! `sockaddr` conversions for the calls std and tokio do not wrap (IP_TRANSPARENT,
//! SO_ORIGINAL_DST, IP_ORIGDSTADDR, binding before a socket is handed over).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

/// Sets an integer socket option.
pub fn set_int(fd: RawFd, level: libc::c_int, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: a valid fd and an int option of the size given.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The address in `ss`, if it is IPv4 or IPv6.
pub fn sockaddr(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match ss.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let sa = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr));
            Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be(sa.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let sa =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sa.sin6_addr.s6_addr);
            Some(SocketAddr::new(IpAddr::V6(ip), u16::from_be(sa.sin6_port)))
        }
        _ => None,
    }
}

/// `a` as a `sockaddr` and its length, for bind and sendto.
pub fn raw_sockaddr(a: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: zeroed storage is a valid sockaddr_storage; the casts write within it.
    unsafe {
        let mut ss: libc::sockaddr_storage = std::mem::zeroed();
        match a {
            SocketAddr::V4(v4) => {
                let sa = (&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>();
                (*sa).sin_family = libc::AF_INET as libc::sa_family_t;
                (*sa).sin_port = v4.port().to_be();
                (*sa).sin_addr.s_addr = u32::from(*v4.ip()).to_be();
                (
                    ss,
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
            SocketAddr::V6(v6) => {
                let sa = (&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
                (*sa).sin6_family = libc::AF_INET6 as libc::sa_family_t;
                (*sa).sin6_port = v6.port().to_be();
                (*sa).sin6_addr.s6_addr = v6.ip().octets();
                (
                    ss,
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    }
}

/// Clears IPV6_V6ONLY, so that a socket on `::` takes IPv4 too.
pub fn dual_stack(fd: RawFd) -> io::Result<()> {
    set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)
}

/// A blocking UDP socket bound to `addr`, with `setup` applied before the bind (options such as
/// IPV6_V6ONLY or IP_TRANSPARENT only count if set first).
pub fn udp_bound_to(
    addr: SocketAddr,
    setup: impl FnOnce(RawFd) -> io::Result<()>,
) -> io::Result<std::net::UdpSocket> {
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: socket returns a new fd (checked), owned at once by the UdpSocket.
    let sock = unsafe {
        let fd = libc::socket(domain, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        std::net::UdpSocket::from_raw_fd(fd)
    };
    setup(sock.as_raw_fd())?;
    let (raw, len) = raw_sockaddr(addr);
    // SAFETY: raw is a sockaddr of the length given.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&raw as *const libc::sockaddr_storage).cast(),
            len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sock)
}
