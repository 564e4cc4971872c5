//! Stand-ins for the well-known DoT and DoH resolvers in the lab's outside namespace: their
//! public addresses on its loopback (the inside routes everything there), one TLS server on
//! tcp/853 (DoT, RFC 7858 framing) and tcp/443 (DoH, RFC 8484 GET and POST). Certificates come
//! from `tests/fixtures/tls`: the resolver names signed by a lab CA (a TLS-inspecting proxy's,
//! say), except 9.9.9.9, which shows a self-signed certificate nobody trusts.

use super::{dns_reply, enter, sh, Lab};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub const RESOLVER_ADDRS: [&str; 7] = [
    "1.1.1.1",
    "8.8.8.8",
    "9.9.9.9",
    "208.67.222.222",
    "94.140.14.14",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
];
/// The one that answers with a certificate from nobody's roots.
pub const ROGUE: Ipv4Addr = Ipv4Addr::new(9, 9, 9, 9);

pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn server_config(cert: &str, key: &str) -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture(cert))
        .expect("cert file")
        .collect::<Result<_, _>>()
        .expect("PEM certs");
    let key = PrivateKeyDer::from_pem_file(fixture(key)).expect("PEM key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server cert"),
    )
}

impl Lab {
    /// Routes the resolver addresses from the inside to the outside, and serves DoT and DoH
    /// there. Ends with the test process.
    pub fn tls_resolvers(&self) {
        sh(
            &[
                "ip",
                "-n",
                &self.inside,
                "route",
                "add",
                "default",
                "via",
                super::OUTSIDE_ADDR,
            ],
            None,
        );
        let v6_route = [
            "ip",
            "-n",
            &self.inside,
            "-6",
            "route",
            "add",
            "default",
            "via",
            super::OUTSIDE_ADDR6,
        ];
        sh(&v6_route, None);
        for a in RESOLVER_ADDRS {
            let host = if a.contains(':') { "128" } else { "32" };
            let addr = format!("{a}/{host}");
            sh(
                &["ip", "-n", &self.outside, "addr", "add", &addr, "dev", "lo"],
                None,
            );
        }
        let ns = self.outside.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            enter(&ns);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let good =
                    tokio_rustls::TlsAcceptor::from(server_config("resolver.pem", "resolver.key"));
                let rogue =
                    tokio_rustls::TlsAcceptor::from(server_config("rogue.pem", "rogue.key"));
                let dot = tokio::net::TcpListener::bind("[::]:853")
                    .await
                    .expect("bind 853");
                let doh = tokio::net::TcpListener::bind("[::]:443")
                    .await
                    .expect("bind 443");
                tx.send(()).expect("ready");
                loop {
                    let (stream, is_dot) = tokio::select! {
                        r = dot.accept() => (r, true),
                        r = doh.accept() => (r, false),
                    };
                    let Ok((stream, _)) = stream else { continue };
                    let local = stream.local_addr().map(|a| a.ip().to_canonical()).ok();
                    let acceptor = if local == Some(IpAddr::V4(ROGUE)) {
                        rogue.clone()
                    } else {
                        good.clone()
                    };
                    tokio::spawn(async move {
                        let Ok(Ok(tls)) =
                            tokio::time::timeout(Duration::from_secs(5), acceptor.accept(stream))
                                .await
                        else {
                            return;
                        };
                        if is_dot {
                            let _ = answer_dot(tls).await;
                        } else {
                            let _ = answer_doh(tls).await;
                        }
                    });
                }
            });
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("resolvers ready");
    }
}

async fn answer_dot<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) -> std::io::Result<()> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await?;
    let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut q).await?;
    let r = dns_reply(&q);
    let mut msg = (r.len() as u16).to_be_bytes().to_vec();
    msg.extend_from_slice(&r);
    s.write_all(&msg).await?;
    s.shutdown().await
}

/// One RFC 8484 exchange: the DNS message from `?dns=` (GET) or the body (POST).
async fn answer_doh<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    let head_end = loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let first = head.lines().next().unwrap_or("");
    let query = if let Some(rest) = first.strip_prefix("GET /dns-query?dns=") {
        base64url_decode(rest.split(' ').next().unwrap_or(""))
    } else if first.starts_with("POST /dns-query ") {
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Some(buf[head_end..(head_end + len).min(buf.len())].to_vec())
    } else {
        None
    };
    let reply = match query {
        Some(q) if q.len() >= 12 => {
            let r = dns_reply(&q);
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/dns-message\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                r.len()
            )
            .into_bytes();
            out.extend_from_slice(&r);
            out
        }
        _ => b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    };
    s.write_all(&reply).await?;
    s.shutdown().await
}

fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
