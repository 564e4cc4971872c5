//! AWS writers: text (any field order, header line, `-`), Parquet (Gzip), CloudWatch export, and
//! the benchmark's bulk writer in the S3 layout.

use super::{LogStatus, Record, Rng};
use crate::aws_text::DEFAULT_FORMAT;
use crate::time::civil_from_days;
use crate::Disposition;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The version 5 custom format with every field of versions 2–5, in the documented order.
pub const AWS_V5_FIELDS: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path";

fn field(r: &Record, name: &str, version: u8) -> String {
    let ok = r.status == LogStatus::Ok;
    let dash = || "-".to_string();
    match name {
        "version" => version.to_string(),
        "account-id" => r.account.clone(),
        "interface-id" => r.interface_id.clone(),
        "start" => r.start.to_string(),
        "end" => r.end.to_string(),
        "log-status" => match r.status {
            LogStatus::Ok => "OK",
            LogStatus::NoData => "NODATA",
            LogStatus::SkipData => "SKIPDATA",
        }
        .into(),
        "region" => "us-east-1".into(),
        "az-id" => "use1-az1".into(),
        "vpc-id" => "vpc-0a1b2c3d".into(),
        "subnet-id" => "subnet-0a1b2c3d".into(),
        "instance-id" => r.instance_id.clone().unwrap_or_else(dash),
        _ if !ok => dash(),
        "srcaddr" | "pkt-srcaddr" => r.src.to_string(),
        "dstaddr" => r.dst.to_string(),
        "pkt-dstaddr" => r.pkt_dst.unwrap_or(r.dst).to_string(),
        "srcport" => r.src_port.to_string(),
        "dstport" => r.dst_port.to_string(),
        "protocol" => r.protocol.to_string(),
        "packets" => r.packets.to_string(),
        "bytes" => r.bytes.to_string(),
        "action" => match r.action {
            Disposition::Accepted => "ACCEPT",
            Disposition::Denied => "REJECT",
        }
        .into(),
        "tcp-flags" => if r.protocol == 6 { "2" } else { "0" }.into(),
        "type" => if r.src.is_ipv6() { "IPv6" } else { "IPv4" }.into(),
        "flow-direction" => if r.egress { "egress" } else { "ingress" }.into(),
        "traffic-path" if r.egress => "8".into(),
        _ => dash(),
    }
}

/// Text records in the field order `fields` (space-separated names), with the header line when
/// `header` (S3 delivery) and without it (CloudWatch Logs delivery).
pub fn aws_text(records: &[Record], fields: &str, header: bool) -> String {
    let names: Vec<&str> = fields.split(' ').collect();
    let version = if fields == DEFAULT_FORMAT { 2 } else { 5 };
    let mut out = String::new();
    if header {
        out.push_str(fields);
        out.push('\n');
    }
    for r in records {
        let line: Vec<String> = names.iter().map(|n| field(r, n, version)).collect();
        out.push_str(&line.join(" "));
        out.push('\n');
    }
    out
}

/// `aws logs filter-log-events --output json` output: one event per record, default format.
pub fn cloudwatch_export(records: &[Record]) -> String {
    let events: Vec<serde_json::Value> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let names: Vec<&str> = DEFAULT_FORMAT.split(' ').collect();
            let message: Vec<String> = names.iter().map(|n| field(r, n, 2)).collect();
            serde_json::json!({
                "logStreamName": format!("{}-all", r.interface_id),
                "timestamp": r.start * 1000,
                "message": message.join(" "),
                "ingestionTime": r.end * 1000 + 5000,
                "eventId": format!("{:056}", i),
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "events": events,
        "searchedLogStreams": [],
    }))
    .expect("JSON of values")
}

const PARQUET_INT32: &[&str] = &[
    "version",
    "srcport",
    "dstport",
    "protocol",
    "tcp-flags",
    "traffic-path",
];
const PARQUET_INT64: &[&str] = &["packets", "bytes", "start", "end"];

/// A Parquet file as AWS writes it: every v2–v5 column (underscored names), Gzip compression,
/// nulls where the text format has `-`.
pub fn aws_parquet(path: &Path, records: &[Record]) -> Result<(), parquet::errors::ParquetError> {
    aws_parquet_fields(path, records, AWS_V5_FIELDS)
}

/// A Parquet file of a custom format: only the columns of `fields` (space-separated text names).
pub fn aws_parquet_fields(
    path: &Path,
    records: &[Record],
    fields: &str,
) -> Result<(), parquet::errors::ParquetError> {
    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    let names: Vec<&str> = fields.split(' ').collect();
    let version = if fields == DEFAULT_FORMAT { 2 } else { 5 };
    let mut schema = String::from("message flow_log {\n");
    for n in &names {
        let col = n.replace('-', "_");
        let ty = if PARQUET_INT32.contains(n) {
            "int32"
        } else if PARQUET_INT64.contains(n) {
            "int64"
        } else {
            "binary"
        };
        let annotation = if ty == "binary" { " (STRING)" } else { "" };
        schema.push_str(&format!("  optional {ty} {col}{annotation};\n"));
    }
    schema.push('}');
    let schema = Arc::new(parquet::schema::parser::parse_message_type(&schema)?);
    let props = WriterProperties::builder()
        .set_compression(Compression::GZIP(Default::default()))
        .build();
    let file = std::fs::File::create(path)?;
    let mut writer = SerializedFileWriter::new(file, schema, Arc::new(props))?;
    // Two row groups when there is more than a handful, so readers cross a group boundary.
    let half = if records.len() > 8 {
        records.len() / 2
    } else {
        records.len()
    };
    for chunk in records.chunks(half.max(1)) {
        let mut group = writer.next_row_group()?;
        for n in &names {
            let mut col = group.next_column()?.expect("one writer per schema column");
            let cells: Vec<String> = chunk.iter().map(|r| field(r, n, version)).collect();
            let defs: Vec<i16> = cells.iter().map(|c| i16::from(c != "-")).collect();
            let present = cells.iter().filter(|c| *c != "-");
            if PARQUET_INT32.contains(n) {
                let v: Vec<i32> = present.map(|c| c.parse().expect("generated")).collect();
                col.typed::<Int32Type>()
                    .write_batch(&v, Some(&defs), None)?;
            } else if PARQUET_INT64.contains(n) {
                let v: Vec<i64> = present.map(|c| c.parse().expect("generated")).collect();
                col.typed::<Int64Type>()
                    .write_batch(&v, Some(&defs), None)?;
            } else {
                let v: Vec<ByteArray> = present.map(|c| ByteArray::from(c.as_str())).collect();
                col.typed::<ByteArrayType>()
                    .write_batch(&v, Some(&defs), None)?;
            }
            col.close()?;
        }
        group.close()?;
    }
    writer.close()?;
    Ok(())
}

/// The benchmark's input: the files numbered `files`, plain text files of `records_per_file` default-format records
/// (with the header line) in the S3 layout under `dir`, one day per 24 files. Traffic: 2,000
/// interfaces, each talking to 25 of 500 public addresses on 8 ports, so distinct keys stay in the
/// hundreds of thousands whatever the volume. Returns the paths and the bytes written.
pub fn bulk_aws_text(
    dir: &Path,
    files: std::ops::Range<usize>,
    records_per_file: usize,
    seed: u64,
) -> std::io::Result<(Vec<PathBuf>, u64)> {
    const PORTS: [(u8, u16); 8] = [
        (6, 443),
        (6, 80),
        (17, 53),
        (6, 445),
        (6, 22),
        (17, 123),
        (6, 8443),
        (6, 25),
    ];
    let t0 = 1_796_000_000i64;
    let mut paths = Vec::new();
    let mut total = 0u64;
    for f in files {
        let mut rng = Rng::new(seed ^ (f as u64).wrapping_mul(0x9e37_79b9));
        let day = t0 / 86_400 + (f / 24) as i64;
        let (y, m, d) = civil_from_days(day);
        let folder = dir.join(format!(
            "AWSLogs/123456789012/vpcflowlogs/us-east-1/{y:04}/{m:02}/{d:02}"
        ));
        std::fs::create_dir_all(&folder)?;
        let path = folder.join(format!(
            "123456789012_vpcflowlogs_us-east-1_fl-0abc_{y:04}{m:02}{d:02}T{:02}00Z_{f:06}.log",
            f % 24
        ));
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        let mut line = Vec::with_capacity(160);
        writeln!(w, "{DEFAULT_FORMAT}")?;
        let base = day * 86_400 + (f % 24) as i64 * 3600;
        for i in 0..records_per_file {
            let r = rng.next_u64();
            let nic = (r % 2000) as u32;
            let dst_ix = (nic * 7 + ((r >> 11) % 25) as u32) % 500;
            let (proto, port) = PORTS[((r >> 16) % 8) as usize];
            let egress = (r >> 20) % 10 < 7;
            let own = [10, (nic >> 8) as u8, (nic & 255) as u8, 10];
            let peer = [52, 94 + (dst_ix >> 8) as u8, (dst_ix & 255) as u8, 7];
            let (src, dst) = if egress { (own, peer) } else { (peer, own) };
            let start = base + (i as i64 * 3600 / records_per_file.max(1) as i64);
            line.clear();
            writeln!(
                line,
                "2 123456789012 eni-{:017x} {}.{}.{}.{} {}.{}.{}.{} {} {} {} {} {} {} {} {} OK",
                0xa000 + nic,
                src[0],
                src[1],
                src[2],
                src[3],
                dst[0],
                dst[1],
                dst[2],
                dst[3],
                32768 + (r >> 24) % 28000,
                port,
                proto,
                1 + (r >> 40) % 20,
                60 + (r >> 45) % 9000,
                start,
                start + 60,
                if (r >> 60).is_multiple_of(16) {
                    "REJECT"
                } else {
                    "ACCEPT"
                },
            )?;
            w.write_all(&line)?;
            total += line.len() as u64;
        }
        w.flush()?;
        paths.push(path);
    }
    Ok((paths, total))
}
