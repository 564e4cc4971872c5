//! A stand-in for the cloud instance metadata services on 169.254.169.254:80 (in the outside
//! namespace, routed from the inside one), answering as each provider documents it: AWS IMDSv2
//! (a session token from `PUT /latest/api/token` with a TTL header first; a request without the
//! token gets 401), Azure IMDS (`Metadata: true` required, else 400), GCP (`Metadata-Flavor:
//! Google` required, else 403, and sent back on every answer). The AWS data is the example
//! instance of examples/aws/default-open (web-1).

use super::{enter, sh, unavailable, Lab, OUTSIDE_ADDR};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const METADATA_IP: &str = "169.254.169.254";
const AWS_TOKEN: &str = "AQAEAFq1-stand-in-token==";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Aws,
    Azure,
    Gcp,
}

/// The running stand-in: which provider it plays, and the requests it got (`METHOD path`).
pub struct StandIn {
    pub provider: Arc<Mutex<Provider>>,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl StandIn {
    pub fn play(&self, p: Provider) {
        *self.provider.lock().unwrap() = p;
        self.log.lock().unwrap().clear();
    }

    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Lab {
    /// Routes 169.254.169.254 from the inside namespace to the outside one, where it is a local
    /// address, and starts the stand-in there.
    pub fn metadata_stand_in(&self, p: Provider) -> StandIn {
        let addr = format!("{METADATA_IP}/32");
        sh(
            &["ip", "-n", &self.outside, "addr", "add", &addr, "dev", "lo"],
            None,
        );
        sh(
            &[
                "ip",
                "-n",
                &self.inside,
                "route",
                "add",
                &addr,
                "via",
                OUTSIDE_ADDR,
            ],
            None,
        );
        let stand_in = StandIn {
            provider: Arc::new(Mutex::new(p)),
            log: Arc::default(),
        };
        let (provider, log) = (stand_in.provider.clone(), stand_in.log.clone());
        let ns = self.outside.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            enter(&ns);
            let l = TcpListener::bind((METADATA_IP, 80)).expect("bind 169.254.169.254:80");
            tx.send(()).unwrap();
            for s in l.incoming().flatten() {
                let (provider, log) = (provider.clone(), log.clone());
                std::thread::spawn(move || serve_one(s, &provider, &log));
            }
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("stand-in ready");
        stand_in
    }
}

fn serve_one(mut s: std::net::TcpStream, provider: &Mutex<Provider>, log: &Mutex<Vec<String>>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut raw = Vec::new();
    let mut buf = [0u8; 2048];
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") && raw.len() < 16384 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let (method, path) = (
        first.next().unwrap_or("").to_string(),
        first.next().unwrap_or("").to_string(),
    );
    let headers: Vec<(String, String)> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    log.lock().unwrap().push(format!("{method} {path}"));
    let p = *provider.lock().unwrap();
    let (status, extra, body) = match p {
        Provider::Aws => aws(&method, &path, &headers),
        Provider::Azure => azure(&path, &headers),
        Provider::Gcp => gcp(&path, &headers),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        _ => "Not Found",
    };
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    let _ = s.write_all(answer.as_bytes());
}

type Reply = (u16, String, String);

/// A request header's value (names are kept in lower case).
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn text(body: &str) -> Reply {
    (200, String::new(), body.to_string())
}

fn not_found() -> Reply {
    (404, String::new(), "Not Found".into())
}

/// The example instance web-1 of examples/aws/default-open.
pub fn aws_document() -> Value {
    json!({
        "accountId": "111122223333", "architecture": "x86_64", "availabilityZone": "us-east-1a",
        "billingProducts": null, "devpayProductCodes": null, "marketplaceProductCodes": null,
        "imageId": "ami-0c7217cdde317cfec", "instanceId": "i-0a5c7e9b1d3f5a701",
        "instanceType": "t3.small", "kernelId": null, "pendingTime": "2026-09-14T08:21:36Z",
        "privateIp": "10.20.1.37", "ramdiskId": null, "region": "us-east-1",
        "version": "2017-09-30"
    })
}

fn aws(method: &str, path: &str, headers: &[(String, String)]) -> Reply {
    let h = |name: &str| header(headers, name);
    const MAC: &str = "0a:1b:2c:3d:4e:5f";
    if path == "/latest/api/token" {
        if method != "PUT" {
            return (405, String::new(), String::new());
        }
        // The TTL header is required, 1 to 21600 seconds.
        let ttl_ok = h("x-aws-ec2-metadata-token-ttl-seconds")
            .and_then(|v| v.parse::<u32>().ok())
            .is_some_and(|t| (1..=21600).contains(&t));
        if !ttl_ok {
            return (400, String::new(), "Bad Request".into());
        }
        let ttl = h("x-aws-ec2-metadata-token-ttl-seconds").unwrap_or("0");
        return (
            200,
            format!("X-Aws-Ec2-Metadata-Token-Ttl-Seconds: {ttl}\r\n"),
            AWS_TOKEN.into(),
        );
    }
    // IMDSv2 required: no token (or a wrong one), no data.
    if h("x-aws-ec2-metadata-token") != Some(AWS_TOKEN) {
        return (401, String::new(), "Unauthorized".into());
    }
    let macs = format!("/latest/meta-data/network/interfaces/macs/{MAC}");
    match path {
        "/latest/dynamic/instance-identity/document" => {
            text(&serde_json::to_string_pretty(&aws_document()).unwrap())
        }
        "/latest/meta-data/mac" => text(MAC),
        "/latest/meta-data/tags/instance/Name" => text("web-1"),
        "/latest/meta-data/network/interfaces/macs/" => text(&format!("{MAC}/")),
        p if p == format!("{macs}/interface-id") => text("eni-0a9c1e3f5b7d9a601"),
        p if p == format!("{macs}/local-ipv4s") => text("10.20.1.37"),
        p if p == format!("{macs}/vpc-id") => text("vpc-0a1f4e2b7c3d5e601"),
        p if p == format!("{macs}/subnet-id") => text("subnet-0a3c5e7f9b1d2f401"),
        _ => not_found(),
    }
}

/// The documented shape of `GET /metadata/instance?api-version=2021-02-01`, shortened.
pub fn azure_document() -> Value {
    json!({
        "compute": {
            "azEnvironment": "AzurePublicCloud", "location": "westeurope", "name": "app-vm-1",
            "resourceGroupName": "rg-app", "vmId": "02aab8a4-74ef-476e-8182-f6d2ba4166a6",
            "subscriptionId": "00000000-1111-2222-3333-444444444444",
            "resourceId": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/app-vm-1",
            "vmSize": "Standard_B2s", "osType": "Linux"
        },
        "network": {"interface": [
            {"ipv4": {"ipAddress": [{"privateIpAddress": "10.1.0.4", "publicIpAddress": "20.61.0.7"}],
                      "subnet": [{"address": "10.1.0.0", "prefix": "24"}]},
             "ipv6": {"ipAddress": []}, "macAddress": "000D3A2B4C5D"},
            {"ipv4": {"ipAddress": [{"privateIpAddress": "10.1.1.4", "publicIpAddress": ""}],
                      "subnet": [{"address": "10.1.1.0", "prefix": "24"}]},
             "ipv6": {"ipAddress": [{"privateIpAddress": "fd00:1::4"}]}, "macAddress": "000D3A2B4C5E"}
        ]}
    })
}

fn azure(path: &str, headers: &[(String, String)]) -> Reply {
    let h = |name: &str| header(headers, name);
    if !path.starts_with("/metadata/") {
        return not_found();
    }
    if h("metadata") != Some("true") {
        let e = r#"{"error": "Bad request. Required metadata header not specified"}"#;
        return (400, String::new(), e.into());
    }
    if !path.contains("api-version=") {
        let e = r#"{"error": "Bad request. api-version was not specified in the request"}"#;
        return (400, String::new(), e.into());
    }
    match path.split('?').next() {
        Some("/metadata/instance") => text(&azure_document().to_string()),
        _ => not_found(),
    }
}

fn gcp(path: &str, headers: &[(String, String)]) -> Reply {
    let h = |name: &str| header(headers, name);
    const FLAVOR: &str = "Metadata-Flavor: Google\r\n";
    let Some(rest) = path.strip_prefix("/computeMetadata/v1/") else {
        return not_found();
    };
    if h("metadata-flavor") != Some("Google") {
        return (
            403,
            FLAVOR.into(),
            "Missing Metadata-Flavor:Google header.".into(),
        );
    }
    let body = match rest {
        "project/project-id" => "shop-prod-4711",
        "project/numeric-project-id" => "123456789012",
        "instance/id" => "4520031799277581759",
        "instance/name" => "api-1",
        "instance/zone" => "projects/123456789012/zones/europe-west1-b",
        "instance/network-interfaces/" => "0/\n",
        "instance/network-interfaces/0/ip" => "10.132.0.5",
        "instance/network-interfaces/0/mac" => "42:01:0a:84:00:05",
        "instance/network-interfaces/0/network" => "projects/123456789012/networks/default",
        "instance/network-interfaces/0/access-configs/" => "0/\n",
        "instance/network-interfaces/0/access-configs/0/external-ip" => "34.76.0.9",
        _ => return (404, FLAVOR.into(), "Not Found".into()),
    };
    (200, FLAVOR.into(), body.into())
}

/// `probe` with only the metadata look-up left to do (every check off); (exit, JSON, took).
pub fn probe_identity(lab: &Lab, extra: &[&str]) -> (Value, Duration) {
    let mut args = vec![
        "probe",
        "--target",
        OUTSIDE_ADDR,
        "-f",
        "json",
        "-q",
        "--no-tcp",
        "--no-icmp",
        "--no-dns",
        "--no-doh",
    ];
    args.extend_from_slice(extra);
    let t0 = Instant::now();
    let (code, out, err) = lab.run_inside(&args);
    let took = t0.elapsed();
    assert_eq!(code, 0, "probe failed: {err}\n{out}");
    (
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")),
        took,
    )
}

/// Each provider's stand-in gives the identity in the documented shape, exactly; labels are
/// written as given; `--no-metadata` asks nothing.
#[test]
fn identity_from_each_providers_metadata_service() {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: the probe lab cannot run here: {why}");
        return;
    }
    let lab = Lab::new();
    let stand_in = lab.metadata_stand_in(Provider::Aws);

    let (v, _) = probe_identity(&lab, &["--label", "site=lab", "--label", "role=web"]);
    assert_eq!(
        v["identity"],
        json!({"provider": "aws", "account": "111122223333", "region": "us-east-1",
               "instance_id": "i-0a5c7e9b1d3f5a701", "instance_name": "web-1",
               "network": "vpc-0a1f4e2b7c3d5e601",
               "interfaces": [{"id": "eni-0a9c1e3f5b7d9a601", "mac": "0a:1b:2c:3d:4e:5f",
                               "addresses": ["10.20.1.37"]}]}),
        "{v}"
    );
    assert_eq!(v["labels"], json!({"role": "web", "site": "lab"}));
    // The token handshake came first, and the stand-in does refuse a request without it.
    let asked = stand_in.requests();
    assert!(
        asked.contains(&"PUT /latest/api/token".to_string()),
        "{asked:?}"
    );
    let (code, out, _) = lab.run_inside(&[
        "probe",
        "--target",
        OUTSIDE_ADDR,
        "-f",
        "json",
        "-q",
        "--no-tcp",
        "--no-icmp",
        "--no-dns",
        "--no-doh",
        "--no-metadata",
    ]);
    assert_eq!(code, 0);
    let without: Value = serde_json::from_str(&out).unwrap();
    assert!(
        without.get("identity").is_none() && without.get("labels").is_none(),
        "{out}"
    );
    let no_token = lab.http_get_inside(format!("{METADATA_IP}:80").parse().unwrap());
    assert!(no_token.starts_with("HTTP/1.1 401"), "{no_token}");

    stand_in.play(Provider::Azure);
    let (v, _) = probe_identity(&lab, &[]);
    assert_eq!(
        v["identity"],
        json!({"provider": "azure", "account": "00000000-1111-2222-3333-444444444444",
               "region": "westeurope",
               "instance_id": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/app-vm-1",
               "instance_name": "app-vm-1", "network": "",
               "interfaces": [
                   {"id": "", "mac": "00:0d:3a:2b:4c:5d", "addresses": ["10.1.0.4", "20.61.0.7"]},
                   {"id": "", "mac": "00:0d:3a:2b:4c:5e", "addresses": ["10.1.1.4", "fd00:1::4"]}]}),
        "{v}"
    );
    assert!(v.get("labels").is_none(), "{v}");

    stand_in.play(Provider::Gcp);
    let (v, _) = probe_identity(&lab, &[]);
    assert_eq!(
        v["identity"],
        json!({"provider": "gcp", "account": "shop-prod-4711", "region": "europe-west1-b",
               "instance_id": "4520031799277581759", "instance_name": "api-1",
               "network": "projects/123456789012/networks/default",
               "interfaces": [{"id": "nic0", "mac": "42:01:0a:84:00:05",
                               "addresses": ["10.132.0.5", "34.76.0.9"]}]}),
        "{v}"
    );
}

/// Off-cloud: with no route to 169.254.169.254 (refused at once) or a route where nothing
/// answers (dropped), the probe has no identity and the look-up costs well under a second.
#[test]
fn off_cloud_metadata_lookup_is_quick() {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: the probe lab cannot run here: {why}");
        return;
    }
    let lab = Lab::new();
    let (v, baseline) = probe_identity(&lab, &["--no-metadata"]);
    assert!(v.get("identity").is_none());
    let (v, no_route) = probe_identity(&lab, &[]);
    assert!(v.get("identity").is_none(), "{v}");
    sh(
        &[
            "ip",
            "-n",
            &lab.inside,
            "route",
            "add",
            &format!("{METADATA_IP}/32"),
            "via",
            OUTSIDE_ADDR,
        ],
        None,
    );
    lab.nft(
        &lab.outside,
        "table ip drop_md {\n chain pre {\n type filter hook prerouting priority -300;\n \
         ip daddr 169.254.169.254 drop\n }\n}\n",
    );
    let (v, dropped) = probe_identity(&lab, &[]);
    assert!(v.get("identity").is_none(), "{v}");
    assert!(
        no_route < baseline + Duration::from_millis(300),
        "no route: {no_route:?} vs {baseline:?} without the look-up"
    );
    assert!(
        dropped < baseline + Duration::from_millis(1000),
        "dropped: {dropped:?} vs {baseline:?} without the look-up"
    );
}

/// The host firewall of the example instance web-1 (examples/aws/default-open): its security
/// groups and NACL allow all egress, but the host itself drops telnet, SMTP, SMB and RDP and
/// rejects NetBIOS, so those ports are "blocked elsewhere" (by a control outside the cloud rules).
pub const EXAMPLE_HOST_FIREWALL: &str = r#"
table inet host_egress {
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "lo" accept
    tcp dport { 23, 25, 445, 3389 } drop
    tcp dport 135-139 reject with tcp reset
  }
}
"#;

/// Regenerates examples/aws/default-open/probe/probe.json: a full probe run in the lab on the
/// example instance web-1, its identity from the AWS stand-in, behind EXAMPLE_HOST_FIREWALL,
/// against serve answering on every port. Run by hand (root):
/// `cargo test --all-features --test probe_lab -- --ignored generate_example_aws_probe`.
#[test]
#[ignore]
fn generate_example_aws_probe() {
    if let Some(why) = unavailable() {
        panic!("the probe lab cannot run here: {why}");
    }
    let mut lab = Lab::new();
    let _stand_in = lab.metadata_stand_in(Provider::Aws);
    lab.nft(&lab.inside, EXAMPLE_HOST_FIREWALL);
    lab.nft(
        &lab.outside,
        "table ip example_tproxy {\n chain pre {\n type filter hook prerouting priority mangle; \
         policy accept;\n ip daddr 10.213.0.2 tcp dport != 8421 tproxy to :8421\n \
         ip daddr 10.213.0.2 udp dport != 8421 tproxy to :8421\n }\n}\n",
    );
    lab.serve(&["--port", "8421", "--quiet"]);
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/aws/default-open/probe/probe.json");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    // The instance's own host name, in a UTS namespace of its own.
    let script = format!(
        "hostname ip-10-20-1-37.ec2.internal && exec ip netns exec {} {} probe --target {} \
         --udp-ports 53,123,443,500,4500 --no-dns --no-doh --ping-extra none -q -f json -o {}",
        lab.inside,
        env!("CARGO_BIN_EXE_egress-audit"),
        OUTSIDE_ADDR,
        out.display()
    );
    let status = std::process::Command::new("unshare")
        .args(["--uts", "sh", "-c", &script])
        .status()
        .unwrap();
    assert!(status.success());
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["identity"]["instance_id"], "i-0a5c7e9b1d3f5a701", "{v}");
}

/// The committed example probe result is what the stand-in and the example's exports say.
#[test]
fn example_aws_probe_names_the_example_instance() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/aws/default-open/probe/probe.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["format"], "egress-audit-probe/1");
    assert_eq!(v["host"], "ip-10-20-1-37.ec2.internal");
    assert_eq!(
        v["identity"],
        json!({"provider": "aws", "account": "111122223333", "region": "us-east-1",
               "instance_id": "i-0a5c7e9b1d3f5a701", "instance_name": "web-1",
               "network": "vpc-0a1f4e2b7c3d5e601",
               "interfaces": [{"id": "eni-0a9c1e3f5b7d9a601", "mac": "0a:1b:2c:3d:4e:5f",
                               "addresses": ["10.20.1.37"]}]})
    );
    let tcp = &v["tcp"];
    assert_eq!(tcp["ports_tested"], 65535);
    assert_eq!(
        tcp["filtered"],
        json!([[23, 23], [25, 25], [445, 445], [3389, 3389]])
    );
    assert_eq!(tcp["closed"], json!([[135, 139]]));
    assert_eq!(tcp["intercepted"], json!([]));
    // The example instance's exports name the same instance, interface and address.
    let exports = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/aws/default-open/network-interfaces.json"),
    )
    .unwrap();
    for id in [
        "i-0a5c7e9b1d3f5a701",
        "eni-0a9c1e3f5b7d9a601",
        "0a:1b:2c:3d:4e:5f",
        "10.20.1.37",
    ] {
        assert!(exports.contains(id), "{id}");
    }
}
