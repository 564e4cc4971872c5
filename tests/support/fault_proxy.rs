//! A small HTTP proxy in front of moto that injects the failures real AWS gives: throttling
//! (`RequestLimitExceeded`, HTTP 503) for the first calls of an action, a 500 once, and
//! `UnauthorizedOperation` for every EC2 call signed for one region.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default, Clone)]
pub struct Faults {
    /// Action → how many of its first calls are throttled.
    pub throttle: HashMap<String, u32>,
    /// Actions whose first call gets a 500.
    pub fail_once: Vec<String>,
    /// EC2 calls signed for this region are refused.
    pub deny_region: Option<String>,
    /// Serve DescribeSecurityGroups in pages of this many groups, with NextToken (moto 5
    /// returns every group in one page whatever MaxResults says).
    pub sg_page_size: Option<usize>,
    /// STS AssumeRole into roles of this account is refused (AccessDenied).
    pub deny_assume_into: Option<String>,
}

/// One request the proxy saw: action, signed region, and the status it answered.
#[derive(Debug, Clone)]
pub struct Seen {
    pub action: String,
    pub region: String,
    pub status: u16,
}

pub struct FaultProxy {
    pub endpoint: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(upstream_port: u16, faults: Faults) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(Mutex::new(faults));
        let seen2 = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (state, seen) = (state.clone(), seen2.clone());
                tokio::spawn(async move {
                    let _ = serve(conn, upstream_port, state, seen).await;
                });
            }
        });
        FaultProxy {
            endpoint,
            seen,
            task,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Request {
    head: String,
    body: Vec<u8>,
}

async fn read_request(conn: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length = header(&head, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(Request { head, body }))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The region and service of a SigV4 signature: `Credential=AKID/date/region/service/aws4_request`.
fn signed_scope(head: &str) -> (String, String) {
    let auth = header(head, "authorization").unwrap_or("");
    let cred = auth
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split([',', ' ']).next())
        .unwrap_or("");
    let parts: Vec<&str> = cred.split('/').collect();
    (
        parts.get(2).unwrap_or(&"").to_string(),
        parts.get(3).unwrap_or(&"").to_string(),
    )
}

fn param(body: &[u8], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|kv| kv.strip_prefix(prefix.as_str()).map(str::to_string))
}

fn action(body: &[u8]) -> String {
    param(body, "Action").unwrap_or_default()
}

/// Cuts moto's whole DescribeSecurityGroups answer down to the groups `offset..offset+size`,
/// with `<nextToken>` when more follow.
fn one_page(response: &[u8], offset: usize, size: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(response).to_string();
    let (Some(head_end), Some(open), Some(close)) = (
        text.find("\r\n\r\n"),
        text.find("<securityGroupInfo>"),
        text.find("</securityGroupInfo>"),
    ) else {
        return response.to_vec();
    };
    let inner = &text[open + "<securityGroupInfo>".len()..close];
    // Top-level <item>…</item> children; items nest (rules, ranges), so count depth.
    let mut items = Vec::new();
    let (mut depth, mut start, mut i) = (0usize, 0usize, 0usize);
    while i < inner.len() {
        if inner[i..].starts_with("<item>") {
            if depth == 0 {
                start = i;
            }
            depth += 1;
            i += "<item>".len();
        } else if inner[i..].starts_with("</item>") {
            depth -= 1;
            i += "</item>".len();
            if depth == 0 {
                items.push(&inner[start..i]);
            }
        } else {
            i += inner[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    let end = (offset + size).min(items.len());
    let page = items.get(offset.min(end)..end).unwrap_or_default().concat();
    let token = if end < items.len() {
        format!("<nextToken>{end}</nextToken>")
    } else {
        String::new()
    };
    let body = format!(
        "{}<securityGroupInfo>{page}</securityGroupInfo>{token}{}",
        &text[head_end + 4..open],
        &text[close + "</securityGroupInfo>".len()..]
    );
    let head: Vec<String> = text[..head_end]
        .lines()
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("content-length:") {
                format!("Content-Length: {}", body.len())
            } else {
                l.to_string()
            }
        })
        .collect();
    format!("{}\r\n\r\n{body}", head.join("\r\n")).into_bytes()
}

fn ec2_error(status: u16, reason: &str, code: &str, message: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>\
         <Message>{message}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>"
    );
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn sts_error(status: u16, code: &str, message: &str) -> Vec<u8> {
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
    );
    format!(
        "HTTP/1.1 {status} Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn serve(
    mut conn: TcpStream,
    upstream_port: u16,
    state: Arc<Mutex<Faults>>,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> std::io::Result<()> {
    let Some(req) = read_request(&mut conn).await? else {
        return Ok(());
    };
    let (region, service) = signed_scope(&req.head);
    let action = action(&req.body);
    let injected = {
        let mut f = state.lock().unwrap();
        if service == "ec2" && f.deny_region.as_deref() == Some(region.as_str()) {
            Some(ec2_error(
                403,
                "Forbidden",
                "UnauthorizedOperation",
                "You are not authorized to perform this operation.",
            ))
        } else if action == "AssumeRole"
            && f.deny_assume_into.as_ref().is_some_and(|account| {
                String::from_utf8_lossy(&req.body).contains(&format!("%3A{account}%3Arole"))
            })
        {
            Some(sts_error(
                403,
                "AccessDenied",
                "User is not authorized to perform: sts:AssumeRole",
            ))
        } else if let Some(n) = f.throttle.get_mut(&action).filter(|n| **n > 0) {
            *n -= 1;
            Some(ec2_error(
                503,
                "Service Unavailable",
                "RequestLimitExceeded",
                "Request limit exceeded.",
            ))
        } else if let Some(i) = f.fail_once.iter().position(|a| *a == action) {
            f.fail_once.remove(i);
            Some(ec2_error(
                500,
                "Internal Server Error",
                "InternalError",
                "An internal error has occurred.",
            ))
        } else {
            None
        }
    };
    let page_size = state.lock().unwrap().sg_page_size;
    let response = match injected {
        Some(r) => r,
        None if action == "DescribeSecurityGroups" && page_size.is_some() => {
            let all = forward(&req, upstream_port).await?;
            let offset = param(&req.body, "NextToken")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            one_page(&all, offset, page_size.unwrap_or(usize::MAX))
        }
        None => forward(&req, upstream_port).await?,
    };
    let status = std::str::from_utf8(&response[..response.len().min(12)])
        .ok()
        .and_then(|s| s.get(9..12))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    seen.lock().unwrap().push(Seen {
        action,
        region,
        status,
    });
    conn.write_all(&response).await?;
    conn.shutdown().await
}

/// Sends the request to moto on a fresh connection and returns its whole answer, marked
/// `Connection: close` (this proxy serves one request per connection).
async fn forward(req: &Request, upstream_port: u16) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream_port)).await?;
    let mut head: Vec<&str> = req
        .head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    head.push("Connection: close");
    let mut out = head.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&req.body);
    up.write_all(&out).await?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).await?;
    let Some(head_end) = find(&resp, b"\r\n\r\n") else {
        return Ok(resp);
    };
    let head = String::from_utf8_lossy(&resp[..head_end]).to_string();
    let mut lines: Vec<&str> = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    lines.push("Connection: close");
    let mut fixed = lines.join("\r\n").into_bytes();
    fixed.extend_from_slice(&resp[head_end..]);
    Ok(fixed)
}
