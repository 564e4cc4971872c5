//! One connect-and-judge: OS `connect()` with a timeout, a minimal HTTP request, and the verdict
//! on what comes back (the token, and the port the responder says was dialled).

use super::{Attempt, Verdict, ANSWER_CAP};
use crate::probe::is_resource_exhaustion;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long an answer is waited for after a connect with `timeout`, by default.
pub(super) fn answer_timeout(timeout: Duration) -> Duration {
    (timeout * 2).clamp(Duration::from_secs(1), Duration::from_secs(5))
}

/// Connects within `timeout`, then waits `answer` (or [`answer_timeout`]) for the answer.
pub(super) async fn attempt(
    addr: SocketAddr,
    (timeout, answer): (Duration, Option<Duration>),
    expect: &str,
    request: &[u8],
) -> Attempt {
    let start = Instant::now();
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => {
            return Attempt::Done {
                verdict: Verdict::Filtered,
                reason: None,
                rtt: None,
            }
        }
        Ok(Err(e)) if is_resource_exhaustion(&e) => {
            // Let other sockets close before this port is tried again.
            tokio::time::sleep(Duration::from_millis(10)).await;
            return Attempt::Backpressure;
        }
        Ok(Err(e)) => {
            let refused = matches!(
                e.raw_os_error(),
                Some(libc::ECONNREFUSED | libc::ECONNRESET)
            );
            return Attempt::Done {
                verdict: if refused {
                    Verdict::Closed
                } else {
                    Verdict::Filtered
                },
                reason: Some(e.to_string()),
                rtt: refused.then(|| start.elapsed()),
            };
        }
        Ok(Ok(s)) => s,
    };
    let rtt = kernel_rtt(&stream).unwrap_or_else(|| start.elapsed());
    let answer_timeout = answer.unwrap_or_else(|| answer_timeout(timeout));
    let (verdict, reason) = match tokio::time::timeout(
        answer_timeout,
        read_answer(stream, addr.port(), expect, request),
    )
    .await
    {
        Ok(v) => v,
        // Not a verdict yet: a responder slowed by the sweep itself is tried again at the end.
        Err(_) => {
            return Attempt::Silent {
                rtt: Some(rtt),
                waited: answer_timeout,
            }
        }
    };
    Attempt::Done {
        verdict,
        reason,
        rtt: Some(rtt),
    }
}

/// The kernel's own measure of the handshake's round trip (SYN to SYN-ACK), which, unlike the
/// time `connect` took here, leaves out the sweep's own queueing: under a CPU-bound burst that
/// queueing would inflate the adaptive timeout. None when the kernel has no sample.
#[cfg(target_os = "linux")]
fn kernel_rtt(stream: &TcpStream) -> Option<Duration> {
    use std::os::fd::AsRawFd;
    // SAFETY: tcp_info is plain old data, for which all-zero bytes are a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the fd is the stream's open socket for the whole call; `info` is a live, writable
    // tcp_info of `len` bytes, and getsockopt writes at most `len` bytes into it.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (rc == 0 && info.tcpi_rtt > 0).then(|| Duration::from_micros(info.tcpi_rtt.into()))
}

#[cfg(not(target_os = "linux"))]
fn kernel_rtt(_: &TcpStream) -> Option<Duration> {
    None
}

/// Sends a minimal HTTP request and judges what comes back.
async fn read_answer(
    mut stream: TcpStream,
    port: u16,
    expect: &str,
    request: &[u8],
) -> (Verdict, Option<String>) {
    // A responder may answer and close before reading; its answer still counts.
    let _ = stream.write_all(request).await;
    let mut buf = Vec::with_capacity(512);
    let mut error = None;
    while buf.len() < ANSWER_CAP {
        buf.reserve(512.min(ANSWER_CAP - buf.len()));
        match stream.read_buf(&mut buf).await {
            Ok(0) => break,
            Ok(_) => {
                if answer_complete(&buf, expect) {
                    break;
                }
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    // Close with a reset: nothing more is wanted, and neither end then keeps the connection in
    // TIME_WAIT (a full sweep would leave tens of thousands), as nmap's connect scan does.
    let _ = stream.set_zero_linger();
    judge(&buf, port, expect, error.as_ref())
}

/// The `Host` header's value: an IPv6 literal goes in brackets (RFC 9110, 7.2).
pub(super) fn host_header(host: &str) -> String {
    match host.parse::<std::net::Ipv6Addr>() {
        Ok(a) => format!("[{a}]"),
        Err(_) => host.to_string(),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The token is in, and so are the headers that could name another port.
fn answer_complete(buf: &[u8], expect: &str) -> bool {
    contains(buf, expect.as_bytes()) && (!buf.starts_with(b"HTTP/") || contains(buf, b"\r\n\r\n"))
}

/// The verdict on an answer: the responder's `X-Egress-Port` header (our `serve`) must name the
/// port dialled, and the expected token must be there.
pub fn judge(
    buf: &[u8],
    port: u16,
    expect: &str,
    error: Option<&std::io::Error>,
) -> (Verdict, Option<String>) {
    let text = String::from_utf8_lossy(buf);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    for line in head.lines() {
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("x-egress-port") {
                if let Ok(seen) = v.trim().parse::<u16>() {
                    if seen != port {
                        return (
                            Verdict::Intercepted,
                            Some(format!(
                                "the responder saw port {seen}: rewritten on the way"
                            )),
                        );
                    }
                }
            }
        }
    }
    if contains(buf, expect.as_bytes()) {
        return (Verdict::Open, None);
    }
    let first = text.lines().next().unwrap_or("").trim();
    let reason = match (buf.is_empty(), error) {
        (true, Some(e)) => format!("connected, then {e}"),
        (true, None) => "connected, then closed without an answer".into(),
        (false, _) => format!(
            "answered without the token: {:?}",
            first.chars().take(80).collect::<String>()
        ),
    };
    (Verdict::Intercepted, Some(reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_answers() {
        let ok = b"HTTP/1.1 200 OK\r\nX-Egress-Port: 445\r\n\r\nw00tw00t";
        assert_eq!(judge(ok, 445, "w00tw00t", None).0, Verdict::Open);
        let moved = judge(ok, 8445, "w00tw00t", None);
        assert_eq!(moved.0, Verdict::Intercepted);
        assert!(moved.1.unwrap().contains("saw port 445"));
        let proxy = judge(b"HTTP/1.1 403 proxy\r\n\r\n", 80, "w00tw00t", None);
        assert_eq!(proxy.0, Verdict::Intercepted);
        assert!(proxy.1.unwrap().contains("403 proxy"));
        assert_eq!(judge(b"", 80, "w00tw00t", None).0, Verdict::Intercepted);
        assert_eq!(judge(b"w00tw00t\n", 80, "w00tw00t", None).0, Verdict::Open);
        // serve's source headers hold colons of their own over IPv6: the port header still
        // decides, whatever the order.
        let v6 = b"HTTP/1.1 200 OK\r\nX-Egress-Source: fd00:213::1\r\n\
                   X-Egress-Source-Port: 443\r\nX-Egress-Port: 8080\r\n\r\nw00tw00t";
        assert_eq!(judge(v6, 8080, "w00tw00t", None).0, Verdict::Open);
        let v6_moved = judge(v6, 443, "w00tw00t", None);
        assert_eq!(v6_moved.0, Verdict::Intercepted);
        assert!(v6_moved.1.unwrap().contains("saw port 8080"));
    }

    #[test]
    fn host_header_brackets_ipv6_literals() {
        assert_eq!(host_header("fd00:213::2"), "[fd00:213::2]");
        assert_eq!(host_header("10.213.0.2"), "10.213.0.2");
        assert_eq!(host_header("letmeoutofyour.net"), "letmeoutofyour.net");
    }
}
