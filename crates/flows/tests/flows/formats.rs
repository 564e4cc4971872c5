//! Every format, generated and read back: exact flows, counters, first/last, coverage and holes.

use crate::expect::{assert_same_flows, expected, read, Fmt};
use egress_audit_flows::aws_text::DEFAULT_FORMAT;
use egress_audit_flows::generate::{self, LogStatus, Record};
use egress_audit_flows::{Disposition, FlowKey, FlowSource, FlowStats, ReadOptions};
use std::path::Path;

const T0: i64 = 1_796_000_000;

fn sample(seed: u64, n: usize) -> Vec<Record> {
    generate::records(seed, n, 6, T0)
}

fn write(dir: &Path, name: &str, data: impl AsRef<[u8]>) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn aws_default_format_with_and_without_header_plain_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let recs = sample(1, 3000);
    let text = generate::aws_text(&recs, DEFAULT_FORMAT, true);
    for (name, data) in [
        ("a.log", text.clone().into_bytes()),
        ("b.log.gz", generate::gzip(text.as_bytes())),
        (
            "c.txt",
            generate::aws_text(&recs, DEFAULT_FORMAT, false).into_bytes(),
        ),
    ] {
        let p = write(dir.path(), name, data);
        let prof = read(&[&p]);
        assert_same_flows(&prof.flows, &expected(&recs, Fmt::AwsV2));
        assert_eq!(
            prof.records, 3000,
            "{name}: every record, NODATA and SKIPDATA included"
        );
        assert_eq!(prof.skipped_count, 0, "{name}: {:?}", prof.skipped);
        assert_eq!(prof.sources, vec![FlowSource::AwsVpc]);
        let skips: Vec<_> = recs
            .iter()
            .filter(|r| r.status == LogStatus::SkipData)
            .collect();
        assert!(!skips.is_empty());
        assert_eq!(
            prof.holes.len(),
            skips.len(),
            "{name}: one hole per SKIPDATA record"
        );
        for r in &skips {
            assert!(prof.holes.iter().any(|h| h.interface_id.as_deref()
                == Some(r.interface_id.as_str())
                && (h.from, h.to) == (r.start, r.end)
                && h.reason.starts_with("SKIPDATA")));
        }
        let eni = &recs[0].interface_id;
        let mine = recs.iter().filter(|r| &r.interface_id == eni);
        let span = (
            mine.clone().map(|r| r.start).min().unwrap(),
            mine.map(|r| r.end).max().unwrap(),
        );
        assert_eq!(prof.covered[eni], span);
        assert_eq!(prof.oldest, recs.iter().map(|r| r.start).min());
        assert_eq!(prof.newest, recs.iter().map(|r| r.end).max());
    }
}

#[test]
fn aws_custom_formats_in_any_field_order() {
    let dir = tempfile::tempdir().unwrap();
    let recs = sample(2, 2500);
    let v5 = generate::AWS_V5_FIELDS;
    let mut shuffled: Vec<&str> = v5.split(' ').collect();
    shuffled.reverse();
    shuffled.swap(0, 7);
    let shuffled = shuffled.join(" ");
    let minimal = "interface-id flow-direction pkt-dstaddr srcaddr dstaddr start end dstport protocol action instance-id packets bytes log-status";
    for (i, fields) in [v5, shuffled.as_str(), minimal].iter().enumerate() {
        let p = write(
            dir.path(),
            &format!("f{i}.log"),
            generate::aws_text(&recs, fields, true),
        );
        let prof = read(&[&p]);
        assert_same_flows(&prof.flows, &expected(&recs, Fmt::AwsV5));
        assert_eq!(prof.skipped_count, 0, "{fields}: {:?}", prof.skipped);
        assert_eq!(prof.records, 2500);
    }
    // Headerless custom format (CloudWatch delivery): the field list comes from the options.
    let p = write(
        dir.path(),
        "cw.log",
        generate::aws_text(&recs, minimal, false),
    );
    let opts = ReadOptions {
        aws_format: Some(minimal.to_string()),
        ..ReadOptions::default()
    };
    let prof = egress_audit_flows::read_paths(&[&p], &opts).unwrap();
    assert_same_flows(&prof.flows, &expected(&recs, Fmt::AwsV5));
}

#[test]
fn aws_v5_record_exactly() {
    // One NAT'd egress record, one ingress record, one NODATA, one IPv6 egress with `-` counters.
    let dir = tempfile::tempdir().unwrap();
    let text = "\
version interface-id instance-id srcaddr dstaddr pkt-dstaddr srcport dstport protocol packets bytes start end action log-status flow-direction
5 eni-0aaa i-0bbb 10.0.1.5 10.0.255.5 52.95.110.1 40000 443 6 10 8400 1796000000 1796000060 ACCEPT OK egress
5 eni-0aaa i-0bbb 52.95.110.1 10.0.1.5 52.95.110.1 443 40000 6 12 9000 1796000000 1796000060 ACCEPT OK ingress
5 eni-0aaa i-0bbb - - - - - - - - 1796000060 1796000120 - NODATA -
5 eni-0aaa - 2600:1f14::10 2600:1f18::1 - 40001 445 6 - - 1796000100 1796000130 REJECT OK egress
5 eni-0aaa i-0bbb 10.0.1.5 10.0.255.5 52.95.110.1 40002 443 6 5 100 1796000200 1796000230 ACCEPT OK egress
";
    let p = write(dir.path(), "x.log", text);
    let prof = read(&[&p]);
    let nat = FlowKey {
        interface_id: Some("eni-0aaa".into()),
        instance_id: Some("i-0bbb".into()),
        src: "10.0.1.5".parse().unwrap(),
        dst: "52.95.110.1".parse().unwrap(),
        protocol: 6,
        dst_port: 443,
        disposition: Disposition::Accepted,
        logged_rule: None,
    };
    let v6 = FlowKey {
        interface_id: Some("eni-0aaa".into()),
        instance_id: None,
        src: "2600:1f14::10".parse().unwrap(),
        dst: "2600:1f18::1".parse().unwrap(),
        dst_port: 445,
        disposition: Disposition::Denied,
        ..nat.clone()
    };
    assert_eq!(prof.flows.len(), 2, "{:?}", prof.flows);
    assert_eq!(
        prof.flows[&nat],
        FlowStats {
            flows: 2,
            packets: 15,
            bytes: 8500,
            first_seen: 1_796_000_000,
            last_seen: 1_796_000_230
        }
    );
    assert_eq!(
        prof.flows[&v6],
        FlowStats {
            flows: 1,
            packets: 0,
            bytes: 0,
            first_seen: 1_796_000_100,
            last_seen: 1_796_000_130
        }
    );
    assert_eq!(prof.records, 5);
    assert_eq!(prof.covered["eni-0aaa"], (1_796_000_000, 1_796_000_230));
    assert!(
        prof.holes.is_empty(),
        "NODATA means logged and idle, not a hole"
    );
}

#[test]
fn aws_parquet_with_hive_partitions_and_cloudwatch_export() {
    let dir = tempfile::tempdir().unwrap();
    let recs = sample(3, 2000);
    let part = dir.path().join("AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=30");
    std::fs::create_dir_all(&part).unwrap();
    let pq = part.join("x.parquet");
    generate::aws_parquet(&pq, &recs).unwrap();
    let prof = read(&[dir.path()]);
    assert_same_flows(&prof.flows, &expected(&recs, Fmt::AwsV5));
    assert_eq!((prof.records, prof.skipped_count), (2000, 0));
    assert_eq!(
        prof.holes.len(),
        recs.iter()
            .filter(|r| r.status == LogStatus::SkipData)
            .count()
    );

    let cw = write(
        dir.path(),
        "events.json",
        generate::cloudwatch_export(&recs),
    );
    let prof = read(&[&cw]);
    assert_same_flows(&prof.flows, &expected(&recs, Fmt::AwsV2));
    assert_eq!((prof.records, prof.skipped_count), (2000, 0));
}

#[test]
fn azure_vnet_and_nsg_v2() {
    let dir = tempfile::tempdir().unwrap();
    let recs = sample(4, 2000);
    let ok = recs.iter().filter(|r| r.status == LogStatus::Ok);
    let p = write(dir.path(), "PT1H.json", generate::azure_vnet(&recs));
    let prof = read(&[&p]);
    assert_same_flows(&prof.flows, &expected(&recs, Fmt::AzureVnet));
    assert_eq!(
        (prof.records, prof.skipped_count),
        (ok.clone().count() as u64, 0)
    );
    assert_eq!(prof.sources, vec![FlowSource::AzureVnet]);

    let p = write(dir.path(), "nsg.json", generate::azure_nsg(&recs));
    let prof = read(&[&p]);
    assert_same_flows(&prof.flows, &expected(&recs, Fmt::AzureNsg));
    let tcp_udp = ok.filter(|r| matches!(r.protocol, 6 | 17)).count() as u64;
    assert_eq!((prof.records, prof.skipped_count), (tcp_udp, 0));
    assert_eq!(prof.sources, vec![FlowSource::AzureNsg]);
}

#[test]
fn gcp_vpc_and_firewall_as_gcloud_array_and_sink_lines() {
    let dir = tempfile::tempdir().unwrap();
    let recs = sample(5, 2000);
    for lines in [false, true] {
        let p = write(
            dir.path(),
            &format!("vpc{lines}.json"),
            generate::gcp_vpc(&recs, lines),
        );
        let prof = read(&[&p]);
        assert_same_flows(&prof.flows, &expected(&recs, Fmt::GcpVpc));
        assert_eq!(prof.skipped_count, 0, "{:?}", prof.skipped);
        assert_eq!(prof.sources, vec![FlowSource::GcpVpc]);
        let p = write(
            dir.path(),
            &format!("fw{lines}.json"),
            generate::gcp_firewall(&recs, lines),
        );
        let prof = read(&[&p]);
        assert_same_flows(&prof.flows, &expected(&recs, Fmt::GcpFirewall));
        assert_eq!(prof.skipped_count, 0, "{:?}", prof.skipped);
        assert_eq!(prof.sources, vec![FlowSource::GcpFirewall]);
    }
}

#[test]
fn aggregated_csv_and_json_lines_round_trip_and_threads_agree() {
    let dir = tempfile::tempdir().unwrap();
    let recs = sample(6, 4000);
    for (i, chunk) in recs.chunks(500).enumerate() {
        write(
            dir.path(),
            &format!("{i:02}.log"),
            generate::aws_text(chunk, generate::AWS_V5_FIELDS, true),
        );
    }
    let one = egress_audit_flows::read_paths(
        &[dir.path()],
        &ReadOptions {
            threads: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let many = egress_audit_flows::read_paths(
        &[dir.path()],
        &ReadOptions {
            threads: 4,
            ..Default::default()
        },
    )
    .unwrap();
    assert_same_flows(&many.flows, &expected(&recs, Fmt::AwsV5));
    assert_eq!(one.flows, many.flows);
    assert_eq!(one.holes, many.holes);
    assert_eq!(
        (one.records, one.covered.clone()),
        (many.records, many.covered.clone())
    );

    let out = tempfile::tempdir().unwrap();
    let mut csv = Vec::new();
    egress_audit_flows::aggregated::write_csv(&one, &mut csv).unwrap();
    let mut jsonl = Vec::new();
    egress_audit_flows::aggregated::write_json_lines(&one, &mut jsonl).unwrap();
    for (name, data) in [("agg.csv", csv), ("agg.jsonl", jsonl)] {
        let p = write(out.path(), name, data);
        let back = read(&[&p]);
        assert_eq!(back.flows, one.flows, "{name}");
        assert_eq!(back.sources, vec![FlowSource::Aggregated]);
        assert_eq!(
            back.records,
            one.flows.len() as u64,
            "{name}: one record per row"
        );
    }
}
