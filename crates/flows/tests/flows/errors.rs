//! Corrupt and foreign input: counted skips with file and line, typed errors naming the file, and
//! the holes of the dated S3 layout.

use crate::expect::{expected, read, Fmt};
use egress_audit_flows::aws_text::DEFAULT_FORMAT;
use egress_audit_flows::generate::{self, LogStatus};
use egress_audit_flows::{FlowError, ReadOptions};

#[test]
fn corrupt_and_truncated_records_are_counted_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let recs = generate::records(7, 400, 4, 1_796_000_000);
    let text = generate::aws_text(&recs, DEFAULT_FORMAT, true);
    // Line 1 is the header: records are lines 2..=401.
    let text = generate::corrupt_line(
        &text,
        10,
        "2 123456789012 eni-x 10.0.0.999 8.8.8.8 1 443 6 1 1 1 2 ACCEPT OK",
    );
    let text = generate::corrupt_line(&text, 20, "\u{1}\u{2} garbage");
    let text = generate::corrupt_line(
        &text,
        30,
        "2 123456789012 eni-x 10.0.0.9 8.8.8.8 1 443 6 1 1 1 2 MAYBE OK",
    );
    let text = generate::truncate_last_line(&text);
    let p = dir.path().join("bad.log");
    std::fs::write(&p, &text).unwrap();
    let prof = read(&[&p]);
    let file = p.display().to_string();
    let got: Vec<(String, u64, String)> = prof
        .skipped
        .iter()
        .map(|s| (s.file.clone(), s.line, s.reason.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                file.clone(),
                10,
                "srcaddr `10.0.0.999` is not an address".to_string()
            ),
            (file.clone(), 20, "expected 14 fields, found 2".to_string()),
            (file.clone(), 30, "action `MAYBE`".to_string()),
            (file.clone(), 401, got[3].2.clone()),
        ]
    );
    assert!(
        got[3].2.starts_with("expected 14 fields") || got[3].2.contains("is not"),
        "{}",
        got[3].2
    );
    assert_eq!(prof.skipped_count, 4);
    assert_eq!(prof.records, 396);
    // The good records are all there.
    let mut good = recs.clone();
    for i in [399, 28, 18, 8] {
        good.remove(i);
    }
    assert_eq!(prof.flows, expected(&good, Fmt::AwsV2));

    // A gzip stream cut short: what was read stays, the break is one counted skip.
    let gz = generate::gzip(generate::aws_text(&recs, DEFAULT_FORMAT, true).as_bytes());
    let p = dir.path().join("cut.log.gz");
    std::fs::write(&p, &gz[..gz.len() * 2 / 3]).unwrap();
    let prof = read(&[&p]);
    assert!(prof.records > 0 && prof.records < 400);
    assert_eq!(prof.skipped_count, prof.skipped.len() as u64);
    assert!(
        prof.skipped
            .iter()
            .any(|s| s.reason.starts_with("the stream breaks off")),
        "{:?}",
        prof.skipped
    );
}

#[test]
fn skipped_examples_are_capped_but_all_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("{DEFAULT_FORMAT}\n");
    for _ in 0..50 {
        text.push_str("2 1 eni-1 nonsense\n");
    }
    let p = dir.path().join("junk.log");
    std::fs::write(&p, text).unwrap();
    let opts = ReadOptions {
        max_skipped_examples: 5,
        ..Default::default()
    };
    let prof = egress_audit_flows::read_paths(&[&p], &opts).unwrap();
    assert_eq!((prof.skipped_count, prof.skipped.len()), (50, 5));
    assert_eq!(
        prof.skipped.iter().map(|s| s.line).collect::<Vec<_>>(),
        vec![2, 3, 4, 5, 6]
    );
}

#[test]
fn a_file_that_is_not_a_flow_log_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("a.log");
    std::fs::write(
        &good,
        generate::aws_text(&generate::records(1, 10, 2, 0), DEFAULT_FORMAT, true),
    )
    .unwrap();
    for (name, data) in [
        ("notes.txt", "hello world\n".as_bytes()),
        ("cfg.json", br#"{"name": "x"}"#.as_slice()),
        ("empty.log", b"".as_slice()),
    ] {
        let bad = dir.path().join(name);
        std::fs::write(&bad, data).unwrap();
        let err =
            egress_audit_flows::read_paths(&[&good, &bad], &ReadOptions::default()).unwrap_err();
        assert!(
            matches!(&err, FlowError::NotAFlowLog { path, .. } if path == &bad),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(name));
        std::fs::remove_file(&bad).unwrap();
    }
    let header = dir.path().join("h.log");
    std::fs::write(&header, "version srcaddr dstaddr start end action\n").unwrap();
    let err = egress_audit_flows::read_paths(&[&header], &ReadOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            FlowError::MissingField {
                field: "dstport",
                ..
            }
        ),
        "{err}"
    );
    let missing = dir.path().join("nope");
    let err = egress_audit_flows::read_paths(&[&missing], &ReadOptions::default()).unwrap_err();
    assert!(matches!(err, FlowError::NotFound { .. }), "{err}");
}

#[test]
fn a_day_without_files_in_the_s3_layout_is_a_hole() {
    let dir = tempfile::tempdir().unwrap();
    let recs = generate::records(8, 30, 2, 1_796_000_000);
    let ok: Vec<_> = recs
        .into_iter()
        .filter(|r| r.status != LogStatus::SkipData)
        .collect();
    for day in ["01", "02", "04", "07"] {
        let d = dir.path().join(format!(
            "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2026/12/{day}"
        ));
        std::fs::create_dir_all(&d).unwrap();
        let gz = generate::gzip(generate::aws_text(&ok, DEFAULT_FORMAT, true).as_bytes());
        std::fs::write(
            d.join("123456789012_vpcflowlogs_eu-west-1_fl-1_20261201T0000Z_x.log.gz"),
            gz,
        )
        .unwrap();
    }
    let prof = read(&[dir.path()]);
    let tree = dir
        .path()
        .join("AWSLogs/123456789012/vpcflowlogs/eu-west-1");
    let days: Vec<(i64, String)> = prof
        .holes
        .iter()
        .map(|h| (h.from, h.reason.clone()))
        .collect();
    let day0 = 1_796_083_200; // 2026-12-01T00:00:00Z
    let want: Vec<(i64, String)> = [(3, "03"), (5, "05"), (6, "06")]
        .iter()
        .map(|(n, d)| {
            (
                day0 + (n - 1) * 86_400,
                format!("no flow log files for 2026-12-{d} under {}", tree.display()),
            )
        })
        .collect();
    assert_eq!(days, want);
    assert!(prof
        .holes
        .iter()
        .all(|h| h.interface_id.is_none() && h.to == h.from + 86_399));
}

#[test]
fn a_stretch_without_any_aws_record_is_a_hole_for_that_interface() {
    // eni-1 is logged every minute (traffic or NODATA) except for two hours; eni-2 throughout.
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_796_000_000;
    let line = |eni: &str, t: i64, nodata: bool| {
        if nodata {
            format!(
                "2 123456789012 {eni} - - - - - - - {t} {} - NODATA\n",
                t + 60
            )
        } else {
            format!(
                "2 123456789012 {eni} 10.0.0.5 8.8.8.8 40000 53 17 1 80 {t} {} ACCEPT OK\n",
                t + 60
            )
        }
    };
    let (mut early, mut late) = (format!("{DEFAULT_FORMAT}\n"), format!("{DEFAULT_FORMAT}\n"));
    for m in 0..360 {
        let t = t0 + m * 60;
        let text = if m < 180 { &mut early } else { &mut late };
        text.push_str(&line("eni-2", t, m % 2 == 0));
        if !(60..180).contains(&m) {
            text.push_str(&line("eni-1", t, m % 3 == 0));
        }
    }
    std::fs::write(dir.path().join("a.log"), early).unwrap();
    std::fs::write(dir.path().join("b.log"), late).unwrap();
    let opts = ReadOptions {
        threads: 2,
        ..Default::default()
    };
    let prof = egress_audit_flows::read_paths(&[dir.path()], &opts).unwrap();
    let holes: Vec<_> = prof
        .holes
        .iter()
        .map(|h| (h.interface_id.as_deref(), h.from, h.to))
        .collect();
    assert_eq!(holes, vec![(Some("eni-1"), t0 + 60 * 60, t0 + 180 * 60)]);
    assert!(prof.holes[0]
        .reason
        .starts_with("no AWS flow log record (not even NODATA) from "));
    assert_eq!(prof.covered["eni-1"], (t0, t0 + 360 * 60));
}

#[test]
fn corrupt_json_records_are_counted_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<_> = generate::records(12, 40, 2, 1_796_000_000)
        .into_iter()
        .filter(|r| {
            r.status == LogStatus::Ok && r.action == egress_audit_flows::Disposition::Accepted
        })
        .collect();
    // GCP sink lines: line 3 is not JSON, line 5 lacks the connection, the last is cut short.
    let lines = generate::gcp_vpc(&recs, true);
    let lines = generate::corrupt_line(&lines, 3, "{not json");
    let lines = generate::corrupt_line(&lines, 5, r#"{"jsonPayload": {"reporter": "SRC"}}"#);
    let lines = generate::truncate_last_line(&lines);
    let p = dir.path().join("sink.json");
    std::fs::write(&p, &lines).unwrap();
    let prof = read(&[&p]);
    let got: Vec<(u64, bool)> = prof
        .skipped
        .iter()
        .map(|s| (s.line, s.file == p.display().to_string()))
        .collect();
    let n = recs.len() as u64;
    assert_eq!(got, vec![(3, true), (5, true), (n, true)]);
    assert!(prof.skipped[0].reason.starts_with("invalid JSON"));
    assert_eq!(
        prof.skipped[1].reason,
        "jsonPayload.connection.src_ip / dest_ip missing or not addresses"
    );
    assert_eq!(prof.records, n - 3);

    // Azure: a tuple with a bad address and one with too few fields, in the second record.
    let blob = generate::azure_vnet(&recs);
    let mut doc: serde_json::Value = serde_json::from_str(&blob).unwrap();
    let tuples = doc["records"][1]["flowRecords"]["flows"][0]["flowGroups"][0]["flowTuples"]
        .as_array_mut()
        .unwrap();
    let before = tuples.len();
    tuples.push("1796000000000,10.0.0.300,8.8.8.8,1,2,6,O,B,NX,0,0,0,0".into());
    tuples.push("1796000000000,10.0.0.3".into());
    let p = dir.path().join("vnet.json");
    std::fs::write(&p, doc.to_string()).unwrap();
    let prof = read(&[&p]);
    let got: Vec<(u64, String)> = prof
        .skipped
        .iter()
        .map(|s| (s.line, s.reason.clone()))
        .collect();
    let at = "records[1].flowRecords.flows[0].flowGroups[0].flowTuples";
    assert_eq!(
        got,
        vec![
            (
                2,
                format!("{at}[{before}]: source `10.0.0.300` is not an address")
            ),
            (
                2,
                format!("{at}[{}]: expected 13 tuple fields, found 2", before + 1)
            ),
        ]
    );
    assert_eq!(prof.records, n);
}
