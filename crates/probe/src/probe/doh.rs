//! DNS over HTTPS (RFC 8484): `application/dns-message` by GET and POST to well-known resolvers,
//! dialled by address (so a blocked system resolver does not hide the path) with the resolver's
//! name for SNI and certificate checks. TLS is rustls with the ring provider and webpki roots.

use super::dns::{error_verdict, parse_response, query_with_id, CHECK_TIMEOUT};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::CertificateDer;

/// (address, name, method) of the DoH endpoints tried: IPv6 ones too, since a host whose IPv4
/// egress is filtered may still reach a resolver over IPv6.
pub const DOH_RESOLVERS: [(IpAddr, &str, &str); 7] = [
    (v4(1, 1, 1, 1), "cloudflare-dns.com", "GET"),
    (v4(8, 8, 8, 8), "dns.google", "POST"),
    (v4(9, 9, 9, 9), "dns.quad9.net", "GET"),
    (v4(208, 67, 222, 222), "doh.opendns.com", "POST"),
    (v4(94, 140, 14, 14), "dns.adguard-dns.com", "GET"),
    (
        v6([0x2606, 0x4700, 0x4700, 0, 0, 0, 0, 0x1111]),
        "cloudflare-dns.com",
        "GET",
    ),
    (
        v6([0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888]),
        "dns.google",
        "POST",
    ),
];

const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

const fn v6(s: [u16; 8]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(
        s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
    ))
}

const RESPONSE_CAP: usize = 64 * 1024;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DohResult {
    pub name: String,
    pub results: Vec<DohCheck>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DohCheck {
    pub resolver: String,
    pub address: String,
    pub method: String,
    /// `answered` (HTTP 200 with a DNS message), `connected` (tcp/443 connected, but TLS or HTTP
    /// failed: an interceptor?), `no-answer`, `refused`, `blocked`, `error`.
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The TLS client for DoT and DoH: the webpki roots, plus `extra` (say, the CA of a
/// TLS-inspecting proxy, so that its re-signed answers count as answered, not intercepted).
pub fn client_config(extra: &[CertificateDer<'static>]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    // Checked one by one when the file was read (`load_roots`).
    roots.add_parsable_certificates(extra.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .unwrap_or_else(|_| {
            // The ring provider supports the default versions; this arm is unreachable in
            // practice, and an empty config then fails each handshake with a clear error.
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("ring supports TLS 1.3")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
        });
    Arc::new(cfg)
}

/// The CA certificates in a PEM file, each checked as a trust anchor.
pub fn load_roots(path: &std::path::Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{}: not PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{}: no CERTIFICATE block in the file", path.display());
    }
    for (i, cert) in certs.iter().enumerate() {
        rustls::RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| anyhow::anyhow!("{}: certificate {}: {e}", path.display(), i + 1))?;
    }
    Ok(certs)
}

/// A TLS client session over `tcp`, verifying the certificate for `sni`.
pub async fn tls_connect(
    tcp: TcpStream,
    sni: &str,
    tls: &Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let name = rustls::pki_types::ServerName::try_from(sni.to_string())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
}

pub async fn probe(name: &str, tls: Arc<rustls::ClientConfig>) -> DohResult {
    let mut set = JoinSet::new();
    for (i, (ip, host, method)) in DOH_RESOLVERS.iter().enumerate() {
        let n = name.to_string();
        let (host, method) = (host.to_string(), method.to_string());
        let ip = *ip;
        let tls = tls.clone();
        set.spawn(async move { (i, check(ip, &host, &method, &n, &tls).await) });
    }
    let mut results = set.join_all().await;
    results.sort_by_key(|r| r.0);
    DohResult {
        name: name.to_string(),
        results: results.into_iter().map(|r| r.1).collect(),
    }
}

async fn check(
    ip: IpAddr,
    host: &str,
    method: &str,
    name: &str,
    tls: &Arc<rustls::ClientConfig>,
) -> DohCheck {
    let mut c = DohCheck {
        resolver: host.to_string(),
        address: ip.to_string(),
        method: method.to_string(),
        verdict: "no-answer".into(),
        http_status: None,
        rtt_ms: None,
        detail: None,
    };
    let start = Instant::now();
    let connected = std::sync::atomic::AtomicBool::new(false);
    let fut = async {
        let tcp = TcpStream::connect(SocketAddr::new(ip, 443)).await?;
        connected.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut tls = tls_connect(tcp, host, tls).await?;
        // RFC 8484 §4.1: the id SHOULD be 0 for cache friendliness.
        let q = query_with_id(name, 0);
        tls.write_all(&request(host, method, &q)).await?;
        tls.flush().await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while buf.len() < RESPONSE_CAP {
            match tls.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                // Servers often end without close_notify; what arrived is still judged.
                Err(e) if !buf.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
        }
        Ok::<_, std::io::Error>(buf)
    };
    let r = tokio::time::timeout(CHECK_TIMEOUT, fut).await;
    match r {
        Err(_) => c.detail = Some(format!("no answer in {} s", CHECK_TIMEOUT.as_secs())),
        Ok(Err(e)) => {
            c.verdict = error_verdict(&e).into();
            c.detail = Some(e.to_string());
        }
        Ok(Ok(buf)) => {
            let (status, verdict, detail) = judge_http(&buf);
            c.http_status = status;
            c.verdict = verdict.into();
            c.detail = detail;
            if c.verdict == "answered" {
                c.rtt_ms = Some((start.elapsed().as_secs_f64() * 1e6).round() / 1e3);
            }
        }
    }
    if !matches!(c.verdict.as_str(), "answered")
        && connected.load(std::sync::atomic::Ordering::Relaxed)
    {
        c.verdict = "connected".into();
    }
    c
}

fn request(host: &str, method: &str, q: &[u8]) -> Vec<u8> {
    if method == "POST" {
        let mut r = format!(
            "POST /dns-query HTTP/1.1\r\nHost: {host}\r\nAccept: application/dns-message\r\n\
             Content-Type: application/dns-message\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            q.len()
        )
        .into_bytes();
        r.extend_from_slice(q);
        r
    } else {
        format!(
            "GET /dns-query?dns={} HTTP/1.1\r\nHost: {host}\r\nAccept: application/dns-message\r\n\
             Connection: close\r\n\r\n",
            base64url(q)
        )
        .into_bytes()
    }
}

/// (status, verdict, detail) of an HTTP/1.1 response that should carry a DNS message.
fn judge_http(buf: &[u8]) -> (Option<u16>, &'static str, Option<String>) {
    let text = String::from_utf8_lossy(buf);
    let status: Option<u16> = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok());
    let Some(split) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (
            status,
            "no-answer",
            Some("no complete HTTP response".into()),
        );
    };
    let head = String::from_utf8_lossy(&buf[..split]).to_ascii_lowercase();
    let mut body = buf[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    if status != Some(200) {
        return (status, "no-answer", Some(format!("HTTP status {status:?}")));
    }
    if !head.contains("application/dns-message") {
        return (
            status,
            "no-answer",
            Some("not application/dns-message".into()),
        );
    }
    match parse_response(&body, 0) {
        Ok((rcode, answers)) => (
            status,
            "answered",
            Some(format!("rcode {rcode}, {answers} answers")),
        ),
        Err(e) => (status, "no-answer", Some(e)),
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&b[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size.filter(|&s| s > 0) else {
            break;
        };
        let start = eol + 2;
        let end = (start + size).min(b.len());
        out.extend_from_slice(&b[start..end]);
        b = &b[(end + 2).min(b.len())..];
    }
    out
}

/// Base64url without padding (RFC 4648 §5), as RFC 8484 GET requires.
pub fn base64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len() * 4 / 3 + 3);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc4648() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn judges_doh_responses() {
        let mut msg = query_with_id("example.com", 0);
        msg[2] |= 0x80;
        let mut ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/dns-message\r\n\r\n".to_vec();
        ok.extend_from_slice(&msg);
        assert_eq!(judge_http(&ok).1, "answered");
        let mut chunked = b"HTTP/1.1 200 OK\r\ncontent-type: application/dns-message\r\n\
            Transfer-Encoding: chunked\r\n\r\n"
            .to_vec();
        chunked.extend_from_slice(format!("{:x}\r\n", msg.len()).as_bytes());
        chunked.extend_from_slice(&msg);
        chunked.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(judge_http(&chunked).1, "answered");
        let portal = b"HTTP/1.1 302 Found\r\nLocation: http://portal\r\n\r\n";
        assert_eq!(judge_http(portal).1, "no-answer");
    }
}
