//! Where the probe ran: the cloud identity from the instance metadata service at
//! 169.254.169.254, so that `scan` can set a probe result beside the instance, ENI or NIC whose
//! declared rules it tests.
//!
//! The three providers are asked at once, each in its documented way, and the one that answers
//! in its own format wins: AWS IMDSv2 (a session token from `PUT /latest/api/token` first; no
//! IMDSv1 fallback), Azure IMDS (`Metadata: true`), GCP (`Metadata-Flavor: Google`, and the
//! answer must carry that header too). Off-cloud nothing answers there: every connect fails or
//! times out within [`CONNECT_TIMEOUT`], and the whole look-up never takes more than
//! [`TOTAL_TIMEOUT`]. Plain HTTP/1.1 over a TCP socket: no client library, no proxy variables
//! (the metadata service must never be asked through a proxy).

use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The link-local address all three providers serve their metadata on.
pub const METADATA_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)), 80);
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(400);
/// One request, connect included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_millis(1500);
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(4);
/// The most of one answer that is read.
const ANSWER_CAP: usize = 256 * 1024;

/// The probe's cloud identity, as written into the probe result (`identity`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CloudIdentity {
    /// `aws`, `azure` or `gcp`.
    pub provider: String,
    /// AWS account id, Azure subscription id, GCP project id.
    #[serde(default)]
    pub account: String,
    /// AWS region, Azure location, GCP zone.
    #[serde(default)]
    pub region: String,
    /// AWS `i-…`, the Azure VM's resource id, the GCP numeric instance id.
    #[serde(default)]
    pub instance_id: String,
    /// The AWS `Name` tag (when instance tags are in the metadata), the Azure VM name, the GCP
    /// instance name.
    #[serde(default)]
    pub instance_name: String,
    /// AWS VPC id of the primary interface, GCP network of nic0 (Azure's IMDS names none).
    #[serde(default)]
    pub network: String,
    #[serde(default)]
    pub interfaces: Vec<InterfaceIdentity>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct InterfaceIdentity {
    /// AWS `eni-…`, GCP `nic0`…; empty on Azure, whose IMDS does not give the NIC's id.
    #[serde(default)]
    pub id: String,
    /// Lower case, colon-separated.
    #[serde(default)]
    pub mac: String,
    /// Private addresses first, then public ones.
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// Asks the metadata service at `at` (METADATA_ADDR but in tests); None off-cloud or when no
/// provider's answer is whole.
pub async fn identity(at: SocketAddr) -> Option<CloudIdentity> {
    let all = async {
        let (aws, azure, gcp) = tokio::join!(aws(at), azure(at), gcp(at));
        aws.or(azure).or(gcp)
    };
    tokio::time::timeout(TOTAL_TIMEOUT, all)
        .await
        .ok()
        .flatten()
}

/// An answer: status and body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

async fn request(
    at: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<Answer> {
    let exchange = async {
        let mut s = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(at))
            .await
            .ok()?
            .ok()?;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: egress-audit\r\nAccept: */*\r\n\
             Connection: close\r\n",
            at.ip()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if method == "PUT" {
            req.push_str("Content-Length: 0\r\n");
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut raw = Vec::new();
        (&mut s)
            .take(ANSWER_CAP as u64)
            .read_to_end(&mut raw)
            .await
            .ok()?;
        parse_answer(&raw)
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .ok()
        .flatten()
}

fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut body = raw[split + 4..].to_vec();
    if header(&head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body)?;
    } else if let Some(len) = header(&head, "content-length").and_then(|v| v.parse().ok()) {
        body.truncate(len);
    }
    Some(Answer {
        status,
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A chunked body, decoded (RFC 9112 §7.1).
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

/// A 200 answer's body, trimmed.
async fn get_text(at: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Option<String> {
    let a = request(at, "GET", path, headers).await?;
    (a.status == 200).then(|| a.body.trim().to_string())
}

fn lines(text: Option<String>) -> Vec<String> {
    text.unwrap_or_default()
        .lines()
        .map(|l| l.trim().trim_end_matches('/').to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// `0E:49:61:0F:C3:11`, `0e-49-…` or Azure's `000D3A…` as `0e:49:61:0f:c3:11`.
pub fn normalize_mac(mac: &str) -> String {
    let hex: String = mac.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    if hex.len() != 12
        || mac
            .chars()
            .any(|c| !c.is_ascii_hexdigit() && !":-.".contains(c))
    {
        return mac.to_ascii_lowercase();
    }
    let hex = hex.to_ascii_lowercase();
    (0..6)
        .map(|i| &hex[2 * i..2 * i + 2])
        .collect::<Vec<_>>()
        .join(":")
}

/// AWS IMDSv2: token, identity document, then each MAC's interface.
async fn aws(at: SocketAddr) -> Option<CloudIdentity> {
    let token = request(
        at,
        "PUT",
        "/latest/api/token",
        &[("X-aws-ec2-metadata-token-ttl-seconds", "60")],
    )
    .await
    .filter(|a| a.status == 200 && !a.body.trim().is_empty())?;
    let token = token.body.trim().to_string();
    let h = [("X-aws-ec2-metadata-token", token.as_str())];
    let doc = get_text(at, "/latest/dynamic/instance-identity/document", &h).await?;
    let doc: serde_json::Value = serde_json::from_str(&doc).ok()?;
    let field = |k: &str| doc[k].as_str().unwrap_or_default().to_string();
    let mut id = CloudIdentity {
        provider: "aws".into(),
        account: field("accountId"),
        region: field("region"),
        instance_id: field("instanceId"),
        ..Default::default()
    };
    if id.instance_id.is_empty() {
        return None;
    }
    id.instance_name = get_text(at, "/latest/meta-data/tags/instance/Name", &h)
        .await
        .unwrap_or_default();
    let primary = get_text(at, "/latest/meta-data/mac", &h).await;
    let mut macs = lines(get_text(at, "/latest/meta-data/network/interfaces/macs/", &h).await);
    // The primary interface first: its VPC is the instance's network.
    macs.sort_by_key(|m| Some(m) != primary.as_ref());
    for mac in macs {
        let base = format!("/latest/meta-data/network/interfaces/macs/{mac}");
        let eni = get_text(at, &format!("{base}/interface-id"), &h).await;
        let mut addresses = lines(get_text(at, &format!("{base}/local-ipv4s"), &h).await);
        addresses.extend(lines(get_text(at, &format!("{base}/ipv6s"), &h).await));
        addresses.extend(lines(
            get_text(at, &format!("{base}/public-ipv4s"), &h).await,
        ));
        if id.network.is_empty() {
            id.network = get_text(at, &format!("{base}/vpc-id"), &h)
                .await
                .unwrap_or_default();
        }
        id.interfaces.push(InterfaceIdentity {
            id: eni.unwrap_or_default(),
            mac: normalize_mac(&mac),
            addresses,
        });
    }
    Some(id)
}

/// Azure IMDS: one JSON document.
async fn azure(at: SocketAddr) -> Option<CloudIdentity> {
    let text = get_text(
        at,
        "/metadata/instance?api-version=2021-02-01",
        &[("Metadata", "true")],
    )
    .await?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let c = &v["compute"];
    let s = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_string();
    let id = CloudIdentity {
        provider: "azure".into(),
        account: s(&c["subscriptionId"]),
        region: s(&c["location"]),
        instance_id: s(&c["resourceId"]),
        instance_name: s(&c["name"]),
        network: String::new(),
        interfaces: v["network"]["interface"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|nic| {
                let mut private = Vec::new();
                let mut public = Vec::new();
                for family in ["ipv4", "ipv6"] {
                    for a in nic[family]["ipAddress"].as_array().into_iter().flatten() {
                        private.push(s(&a["privateIpAddress"]));
                        public.push(s(&a["publicIpAddress"]));
                    }
                }
                private.extend(public);
                private.retain(|a| !a.is_empty());
                InterfaceIdentity {
                    id: String::new(),
                    mac: normalize_mac(&s(&nic["macAddress"])),
                    addresses: private,
                }
            })
            .collect(),
    };
    (!id.account.is_empty() && !id.instance_id.is_empty()).then_some(id)
}

/// GCP: one value per path; every answer must say `Metadata-Flavor: Google`.
async fn gcp(at: SocketAddr) -> Option<CloudIdentity> {
    let h = [("Metadata-Flavor", "Google")];
    let get = |path: String| async move {
        let a = request(at, "GET", &format!("/computeMetadata/v1/{path}"), &h).await?;
        let google = header(&a.head, "metadata-flavor") == Some("Google");
        (a.status == 200 && google).then(|| a.body.trim().to_string())
    };
    let instance_id = get("instance/id".into()).await?;
    let zone = get("instance/zone".into()).await.unwrap_or_default();
    let mut id = CloudIdentity {
        provider: "gcp".into(),
        account: get("project/project-id".into()).await.unwrap_or_default(),
        region: zone.rsplit('/').next().unwrap_or_default().to_string(),
        instance_id,
        instance_name: get("instance/name".into()).await.unwrap_or_default(),
        ..Default::default()
    };
    let nics = lines(get("instance/network-interfaces/".into()).await);
    for n in nics {
        let base = format!("instance/network-interfaces/{n}");
        let mut addresses = lines(get(format!("{base}/ip")).await);
        addresses.extend(lines(get(format!("{base}/ipv6s")).await));
        for ac in lines(get(format!("{base}/access-configs/")).await) {
            addresses.extend(lines(
                get(format!("{base}/access-configs/{ac}/external-ip")).await,
            ));
        }
        if id.network.is_empty() {
            id.network = get(format!("{base}/network")).await.unwrap_or_default();
        }
        id.interfaces.push(InterfaceIdentity {
            id: format!("nic{n}"),
            mac: normalize_mac(&get(format!("{base}/mac")).await.unwrap_or_default()),
            addresses,
        });
    }
    Some(id)
}

/// `KEY=VALUE` (for `--label`): a key of letters, digits, `-`, `_`, `.`, and any value.
pub fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))?;
    let k = k.trim();
    if k.is_empty()
        || !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "{k:?}: a label key is letters, digits, '-', '_', '.'"
        ));
    }
    Ok((k.to_string(), v.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_normalised() {
        assert_eq!(normalize_mac("000D3AF806EC"), "00:0d:3a:f8:06:ec");
        assert_eq!(normalize_mac("0E:49:61:0F:C3:11"), "0e:49:61:0f:c3:11");
        assert_eq!(normalize_mac("42-01-0a-80-00-02"), "42:01:0a:80:00:02");
        assert_eq!(normalize_mac("not a mac"), "not a mac");
    }

    #[test]
    fn answers_parse_plain_and_chunked() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more";
        let a = parse_answer(plain).unwrap();
        assert_eq!((a.status, a.body.as_str()), (200, "hello"));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnic0\r\n3;x=y\r\n/ok\r\n0\r\n\r\n";
        let a = parse_answer(chunked).unwrap();
        assert_eq!(a.body, "nic0/ok");
        assert_eq!(
            parse_answer(b"HTTP/1.1 401 Unauthorized\r\n\r\n")
                .unwrap()
                .status,
            401
        );
        assert!(parse_answer(b"garbage").is_none());
    }

    #[test]
    fn labels_parse() {
        assert_eq!(
            parse_label("site=dc1").unwrap(),
            ("site".into(), "dc1".into())
        );
        assert_eq!(
            parse_label("role=a=b").unwrap(),
            ("role".into(), "a=b".into())
        );
        assert!(parse_label("site").is_err());
        assert!(parse_label("=x").is_err());
        assert!(parse_label("bad key=x").is_err());
    }

    #[test]
    fn the_shape_is_the_documented_one() {
        let id = CloudIdentity {
            provider: "aws".into(),
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            instance_id: "i-0abc".into(),
            instance_name: "web".into(),
            network: "vpc-1".into(),
            interfaces: vec![InterfaceIdentity {
                id: "eni-1".into(),
                mac: "0e:00:00:00:00:01".into(),
                addresses: vec!["10.0.1.5".into()],
            }],
        };
        let v = serde_json::to_value(&id).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"provider": "aws", "account": "123456789012", "region": "eu-west-1",
                "instance_id": "i-0abc", "instance_name": "web", "network": "vpc-1",
                "interfaces": [{"id": "eni-1", "mac": "0e:00:00:00:00:01", "addresses": ["10.0.1.5"]}]})
        );
    }

    /// Off-cloud, nothing listens there: the look-up gives up quickly.
    #[tokio::test]
    async fn nothing_there_is_quick() {
        // A port nothing listens on: refused at once.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let at = l.local_addr().unwrap();
        drop(l);
        let t0 = std::time::Instant::now();
        assert_eq!(identity(at).await, None);
        assert!(
            t0.elapsed() < Duration::from_millis(500),
            "{:?}",
            t0.elapsed()
        );
    }
}
