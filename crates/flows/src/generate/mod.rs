//! Deterministic flow-log generator (by seed), written from the providers' documentation of each
//! format: AWS VPC Flow Logs text (default and custom field orders, header line, `-`,
//! NODATA/SKIPDATA, IPv6, gzip), AWS Parquet (Gzip), CloudWatch Logs exports, Azure VNet and NSG v2
//! flow logs, GCP VPC Flow Logs and Firewall Rules Logging entries (array or JSON lines), and helpers
//! that truncate or corrupt records. Used by the tests and by the benchmark (`examples/flows_bench`).

mod aws;
mod cloud;

pub use aws::{
    aws_parquet, aws_parquet_fields, aws_text, bulk_aws_text, cloudwatch_export, AWS_V5_FIELDS,
};
pub use cloud::{azure_mac, azure_nsg, azure_vnet, gcp_firewall, gcp_vm, gcp_vpc};

use crate::Disposition;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// SplitMix64: tiny, fast, and the same sequence for the same seed everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// AWS `log-status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStatus {
    Ok,
    NoData,
    SkipData,
}

/// One generated flow, in provider-neutral terms; each writer renders it in its format.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub account: String,
    /// `eni-…` (AWS); the writers for Azure and GCP name the NIC / VM from it.
    pub interface_id: String,
    /// `i-…`, or None when the instance is not known (a NAT gateway's interface).
    pub instance_id: Option<String>,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub protocol: u8,
    pub packets: u64,
    pub bytes: u64,
    pub start: i64,
    pub end: i64,
    pub action: Disposition,
    /// Outbound from the interface.
    pub egress: bool,
    pub status: LogStatus,
    /// The packet's real destination when it differs from `dst` (through a NAT gateway).
    pub pkt_dst: Option<IpAddr>,
    /// The rule an Azure / GCP log names.
    pub rule: Option<String>,
}

const PORTS: [(u8, u16); 10] = [
    (6, 443),
    (6, 80),
    (17, 53),
    (6, 53),
    (6, 445),
    (6, 23),
    (6, 853),
    (17, 123),
    (6, 8443),
    (1, 0),
];
const RULES: [&str; 3] = [
    "AllowWebOut",
    "DefaultRule_AllowInternetOutBound",
    "DenyAllOut",
];

fn public_dst(rng: &mut Rng, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(
            0x2600,
            0x1f18,
            0,
            0,
            0,
            0,
            0,
            1 + rng.below(8) as u16,
        ))
    } else {
        let pool = [
            [52, 95, 110, 1],
            [13, 32, 1, 10],
            [151, 101, 1, 69],
            [8, 8, 8, 8],
            [1, 1, 1, 1],
        ];
        IpAddr::V4(Ipv4Addr::from(pool[rng.below(pool.len() as u64) as usize]))
    }
}

/// `n` records over `interfaces` interfaces from `t0` on, a minute apart per interface: a mix of
/// egress and ingress, accepted and rejected, IPv4 and IPv6, NAT'd destinations and, every so
/// often, NODATA and SKIPDATA intervals.
pub fn records(seed: u64, n: usize, interfaces: usize, t0: i64) -> Vec<Record> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let nic = rng.below(interfaces as u64) as usize;
            let v6 = rng.chance(15);
            let own: IpAddr = if v6 {
                IpAddr::V6(Ipv6Addr::new(0x2600, 0x1f14, 0xaa, nic as u16, 0, 0, 0, 10))
            } else {
                IpAddr::V4(Ipv4Addr::new(
                    10,
                    0,
                    (nic / 200) as u8,
                    (nic % 200 + 10) as u8,
                ))
            };
            let peer = if rng.chance(20) && !v6 {
                IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1 + rng.below(3) as u8))
            } else {
                public_dst(&mut rng, v6)
            };
            let egress = rng.chance(70);
            let (proto, port) = PORTS[rng.below(PORTS.len() as u64) as usize];
            let (src, dst, src_port, dst_port) = if egress {
                (own, peer, 32768 + rng.below(28000) as u16, port)
            } else {
                (peer, own, 32768 + rng.below(28000) as u16, port)
            };
            let status = match rng.below(100) {
                0 => LogStatus::SkipData,
                1 | 2 => LogStatus::NoData,
                _ => LogStatus::Ok,
            };
            let start = t0 + (i / interfaces.max(1)) as i64 * 60 + rng.below(5) as i64;
            let action = if rng.chance(85) {
                Disposition::Accepted
            } else {
                Disposition::Denied
            };
            let nat = egress && !v6 && rng.chance(5);
            Record {
                account: "123456789012".into(),
                interface_id: format!("eni-{:017x}", 0xa000 + nic),
                instance_id: (nic % 5 != 4).then(|| format!("i-{:017x}", 0xb000 + nic)),
                src,
                dst: if nat {
                    IpAddr::V4(Ipv4Addr::new(10, 0, 255, 5))
                } else {
                    dst
                },
                src_port,
                dst_port: if proto == 1 { 0 } else { dst_port },
                protocol: proto,
                packets: 1 + rng.below(50),
                bytes: 40 + rng.below(100_000),
                start,
                end: start + 30 + rng.below(30) as i64,
                action,
                egress,
                status,
                pkt_dst: nat.then_some(dst),
                rule: Some(match action {
                    Disposition::Denied => RULES[2].to_string(),
                    Disposition::Accepted => RULES[rng.below(2) as usize].to_string(),
                }),
            }
        })
        .collect()
}

/// Gzip-compresses a buffer (as AWS delivers its S3 text files).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

/// Cuts the last line of `text` in half (a record truncated by an interrupted write).
pub fn truncate_last_line(text: &str) -> String {
    let body = text.trim_end_matches('\n');
    let start = body.rfind('\n').map_or(0, |i| i + 1);
    let keep = start + (body.len() - start) / 2;
    body[..keep].to_string()
}

/// Replaces line `line` (1-based) of `text` with `garbage`.
pub fn corrupt_line(text: &str, line: usize, garbage: &str) -> String {
    let mut out: Vec<&str> = text.lines().collect();
    out[line - 1] = garbage;
    let mut s = out.join("\n");
    s.push('\n');
    s
}
