//! The command line as a user runs it: exit statuses, messages that name the file, the main job.

use std::process::{Command, Output};

fn run(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args(args)
        .current_dir(dir)
        .env_remove("COLUMNS")
        .output()
        .unwrap()
}

fn root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_main_job_scans_every_example_and_gates_on_medium() {
    let demo = run(
        &[
            "scan",
            "--input",
            "examples/",
            "--fail-on",
            "critical",
            "--format",
            "json",
        ],
        root(),
    );
    assert_eq!(
        demo.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&demo.stdout).unwrap();
    let providers: std::collections::BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["provider"].as_str().unwrap())
        .collect();
    // `host`: the Linux host's nftables export in examples/host/.
    assert_eq!(
        providers,
        ["aws", "azure", "gcp", "host"].into_iter().collect()
    );
    // The permission files beside the exports are named as skipped, not read and not an error.
    let skipped: Vec<&str> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == "skipped-file")
        .map(|w| w["source"].as_str().unwrap())
        .collect();
    assert!(
        skipped.contains(&"examples/aws-iam-policy.json"),
        "{skipped:?}"
    );
    let gated = run(
        &["scan", "--input", "examples/", "--format", "json"],
        root(),
    );
    assert_eq!(gated.status.code(), Some(1));
}

#[test]
fn bad_inputs_exit_2_and_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.json"), r#"{"hello": "world"}"#).unwrap();
    std::fs::write(dir.path().join("broken.json"), "{\"SecurityGroups\": [").unwrap();
    std::fs::write(
        dir.path().join("sg.json"),
        r#"{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissionsEgress": [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "10.0.0.0/33"}]}]}]}"#,
    )
    .unwrap();
    for (file, says) in [
        ("notes.json", "not a recognised export"),
        ("broken.json", "not valid JSON"),
        ("sg.json", "sg-1"),
    ] {
        let out = run(&["scan", "--input", file], dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(err.contains(file) && err.contains(says), "{file}: {err}");
    }
    let none = run(&["scan"], dir.path());
    assert_eq!(none.status.code(), Some(2));
    let missing = run(&["scan", "--input", "nope.json"], dir.path());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.json"));
}

#[test]
fn rules_prints_the_catalog() {
    let out = run(&["rules", "--format", "json"], root());
    assert_eq!(out.status.code(), Some(0));
    let catalog: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = catalog.to_string();
    for id in [
        "EG001", "EG002", "EG003", "EG004", "EG005", "EG006", "EG007", "EG008", "EG009", "EG011",
        "EG012", "EG013",
    ] {
        assert!(text.contains(id), "{id} missing from the catalog");
    }
    assert!(text.contains("AC-4") && text.contains("1.3.2"));
}

#[test]
fn partial_snapshots_exit_3_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let snap = serde_json::json!({
        "format": "egress-audit-snapshot/1", "tool_version": "0", "collected_at": "2026-11-25T00:00:00Z",
        "documents": [{"provider": "aws", "account": "111122223333", "region": "us-east-1",
            "kind": "describe-security-groups",
            "data": {"SecurityGroups": [{"GroupId": "sg-1", "OwnerId": "111122223333", "VpcId": "vpc-1",
                "IpPermissionsEgress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                    "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}]}}],
        "not_scanned": [{"provider": "aws", "account": "111122223333", "region": "eu-west-1",
            "scope": "region", "reason": "UnauthorizedOperation: denied"}]
    });
    std::fs::write(dir.path().join("snap.json"), snap.to_string()).unwrap();
    let partial = run(
        &["scan", "--input", "snap.json", "--format", "json"],
        dir.path(),
    );
    assert_eq!(partial.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&partial.stdout).unwrap();
    assert_eq!(report["summary"]["partial"], true);
    assert_eq!(report["not_scanned"][0]["region"], "eu-west-1");
    let allowed = run(
        &[
            "scan",
            "--input",
            "snap.json",
            "--format",
            "json",
            "--allow-partial",
        ],
        dir.path(),
    );
    assert_eq!(allowed.status.code(), Some(0));
}

/// A `--tls-ca` file that is missing or holds no certificate stops the probe before it sends
/// anything, naming the file (exit 2, not a probe that quietly trusts less than asked).
#[test]
fn probe_tls_ca_must_hold_certificates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.pem"), "just text\n").unwrap();
    std::fs::write(
        dir.path().join("junk.pem"),
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    for (file, says) in [
        ("missing.pem", "No such file"),
        ("empty.pem", "no CERTIFICATE block"),
        ("junk.pem", "certificate 1"),
    ] {
        let out = run(
            &["probe", "--tls-ca", file, "--no-tcp", "--no-icmp"],
            dir.path(),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(err.contains(file) && err.contains(says), "{file}: {err}");
    }
}

/// `scan … | head`: the reader goes away early. That is the user's choice, not an error: no
/// "Broken pipe" message and the exit status of the findings, for every format.
#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::Read;
    for format in ["json", "sarif", "csv", "junit", "html", "markdown", "table"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_egress-audit"))
            .args(["scan", "--input", "examples/", "--fail-on", "never"])
            .args(["--format", format])
            .current_dir(root())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 64];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // The pipe's read end is closed here, with most of the report unread.
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{format}: {stderr}");
        assert!(
            !stderr.to_lowercase().contains("broken pipe"),
            "{format}: {stderr}"
        );
    }
}

mod completions;
mod docs;
mod flows_profile;
mod inputs;
mod observed_examples;
mod propose_gcp;
mod schemas;
/// `-o` several times: each file in its format (from the extension), from one scan.
#[test]
fn several_outputs_in_one_run_take_their_format_from_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let out = run(
        &[
            "scan",
            "--quiet",
            "--input",
            "examples/",
            "--fail-on",
            "none",
            "-o",
            &p("report.sarif"),
            "-o",
            &p("report.json"),
            "-o",
            &p("summary.md"),
            "-o",
            &p("findings.csv"),
            "-o",
            &p("junit.xml"),
            "-o",
            &p("page.html"),
        ],
        root(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "files only, nothing on standard output"
    );
    let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
    let sarif: serde_json::Value = serde_json::from_str(&read("report.sarif")).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let json: serde_json::Value = serde_json::from_str(&read("report.json")).unwrap();
    let findings = json["findings"].as_array().unwrap();
    assert!(
        findings.iter().all(|f| f["cause"].is_string()),
        "every finding has a cause"
    );
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        findings.len(),
        "the same scan"
    );
    assert!(read("summary.md").starts_with("# egress-audit report"));
    assert!(read("findings.csv").starts_with("severity,check_id"));
    assert!(read("junit.xml").starts_with("<?xml"));
    assert!(read("page.html").starts_with("<!DOCTYPE html>"));

    // An extension that says nothing needs --format; one --format per output pairs in order.
    let bad = run(
        &["scan", "--input", "examples/", "-o", &p("out.bin")],
        root(),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("out.bin"));
    let paired = run(
        &[
            "scan",
            "--quiet",
            "--input",
            "examples/",
            "--fail-on",
            "none",
            "-f",
            "csv",
            "-f",
            "json",
            "-o",
            &p("a.out"),
            "-o",
            &p("b.out"),
        ],
        root(),
    );
    assert_eq!(paired.status.code(), Some(0));
    assert!(read("a.out").starts_with("severity,"));
    assert!(read("b.out").starts_with('{'));
}

#[test]
fn fail_on_none_exits_0_but_a_partial_scan_still_exits_3() {
    let clean = run(
        &[
            "scan",
            "--quiet",
            "--input",
            "examples/",
            "--fail-on",
            "none",
            "-f",
            "json",
        ],
        root(),
    );
    assert_eq!(clean.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snapshot.json");
    std::fs::write(
        &snap,
        r#"{"format": "egress-audit-snapshot/1", "tool_version": "0.1.0",
            "collected_at": "2026-01-01T00:00:00Z", "documents": [],
            "not_scanned": [{"provider": "aws", "account": "111122223333",
                             "region": "me-south-1", "scope": "region", "reason": "OptInRequired"}]}"#,
    )
    .unwrap();
    let snap = snap.display().to_string();
    let partial = run(
        &["scan", "-q", "-i", &snap, "--fail-on", "none", "-f", "json"],
        root(),
    );
    assert_eq!(partial.status.code(), Some(3));
    let allowed = run(
        &[
            "scan",
            "-q",
            "-i",
            &snap,
            "--fail-on",
            "none",
            "--allow-partial",
            "-f",
            "json",
        ],
        root(),
    );
    assert_eq!(allowed.status.code(), Some(0));
}

fn findings(out: &Output) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["findings"].as_array().unwrap().clone()
}

#[test]
fn severity_and_check_filters_keep_only_what_was_asked() {
    let base = [
        "scan",
        "-q",
        "-i",
        "examples/",
        "--fail-on",
        "none",
        "-f",
        "json",
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        run(&args, root())
    };
    let all = findings(&with(&[]));
    let high = findings(&with(&["--severity", "high"]));
    assert!(!high.is_empty() && high.len() < all.len());
    assert!(high.iter().all(|f| f["severity"] == "high"));
    let two = findings(&with(&["--severity", "high,low"]));
    assert!(two
        .iter()
        .all(|f| f["severity"] == "high" || f["severity"] == "low"));
    assert!(two.len() > high.len());
    let smb = findings(&with(&["--check", "EG002", "--check", "telnet-egress"]));
    assert!(!smb.is_empty());
    assert!(smb
        .iter()
        .all(|f| f["check_id"] == "EG002" || f["check_id"] == "EG003"));
    let skipped = findings(&with(&["--skip-check", "EG002"]));
    assert!(skipped.iter().all(|f| f["check_id"] != "EG002"));
    assert_eq!(
        skipped.len(),
        all.len() - all.iter().filter(|f| f["check_id"] == "EG002").count()
    );
    // The gate follows the filter: only low findings, gate medium → exit 0.
    let mut args = base.to_vec();
    args.retain(|a| *a != "--fail-on" && *a != "none");
    args.extend_from_slice(&["--severity", "low"]);
    assert_eq!(run(&args, root()).status.code(), Some(0));
    // A typo is an error, not an empty report.
    let typo = with(&["--check", "EG999"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("EG999"));
}

/// The examples' table: summary first, a screen or two at 100 columns, fits 80 columns, colour
/// only when asked (and never with NO_COLOR on auto).
#[test]
fn the_examples_table_is_short_and_colour_follows_the_flags() {
    let table = |extra: &[&str]| {
        let mut args = vec![
            "scan",
            "-q",
            "-i",
            "examples/",
            "--fail-on",
            "none",
            "-f",
            "table",
        ];
        args.extend_from_slice(extra);
        let out = run(&args, root());
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout).unwrap()
    };
    let text = table(&[]);
    let lines = text.lines().count();
    // Two screens at most, with the consistency lines the host and probe examples add.
    assert!(lines <= 200, "{lines} lines:\n{text}");
    assert!(
        text.lines().next().unwrap().starts_with("egress-audit: ")
            && text.lines().next().unwrap().contains(" targets · "),
        "{text}"
    );
    for l in text.lines() {
        assert!(
            l.chars().count() <= 100 || !l.trim().contains(' '),
            "too wide: {l}"
        );
    }
    assert!(!text.contains('\u{1b}'), "not a terminal: no colour");
    let coloured = table(&["--color", "always"]);
    assert!(coloured.contains("\u{1b}[1;31mHIGH\u{1b}[0m"));
    let verbose = table(&["-v"]);
    assert!(verbose.lines().count() > lines, "-v shows every finding");
    assert!(verbose.contains("• allow"), "with its evidence");
    for group in ["target", "check"] {
        let t = table(&["--group-by", group]);
        assert!(t.lines().count() < lines * 2, "--group-by {group}");
    }
    let no_color = Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args([
            "scan",
            "-q",
            "-i",
            "examples/",
            "--fail-on",
            "none",
            "-f",
            "table",
            "--color",
            "auto",
        ])
        .env("NO_COLOR", "1")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&no_color.stdout).contains('\u{1b}'));
}

/// A file name with an escape sequence is shown escaped in the error message.
#[test]
fn error_messages_escape_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let name = "evil\u{1b}]0;pwned\u{7}\u{1b}[2J.json";
    std::fs::write(dir.path().join(name), "{ not json").unwrap();
    let out = run(&["scan", "-i", name], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert!(err.contains("evil\\u{1b}]0;pwned"), "{err:?}");
}

/// `flows sql` prints, for each engine, exactly the aggregation the flows crate runs through DuckDB
/// in its own tests, so what a user runs on Athena or BigQuery is the tested query's dialect.
#[test]
fn flows_sql_prints_each_engines_aggregation() {
    use egress_audit_flows::{aggregation_sql, SqlEngine};
    for (name, engine) in [
        ("athena", SqlEngine::Athena),
        ("bigquery", SqlEngine::BigQuery),
        ("duckdb", SqlEngine::DuckDb),
    ] {
        let out = run(&["flows", "sql", "--engine", name], root());
        assert_eq!(out.status.code(), Some(0), "{name}");
        let printed = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            printed.trim_end(),
            aggregation_sql(engine).trim_end(),
            "{name}"
        );
    }
    let bad = run(&["flows", "sql", "--engine", "sqlite"], root());
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown engine is a usage error"
    );
}

/// The `egress-audit: error:` lines of a run's standard error.
fn error_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("egress-audit: error: "))
        .map(str::to_string)
        .collect()
}

/// Three broken exports among good ones, given as files and in a folder: one run reports all
/// three, one line each sorted by file, exits 2 and writes no report.
#[test]
fn every_bad_input_of_a_run_is_reported_before_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("exports")).unwrap();
    let good = r#"{"SecurityGroups": [{"GroupId": "sg-good", "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]}"#;
    for f in ["exports/b-good.json", "exports/n-good.json", "good.json"] {
        std::fs::write(d.join(f), good).unwrap();
    }
    std::fs::write(d.join("exports/a-broken.json"), "{\"SecurityGroups\": [").unwrap();
    std::fs::write(
        d.join("exports/m-bad-rule.json"),
        r#"{"SecurityGroups": [{"GroupId": "sg-m", "IpPermissionsEgress": [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "10.0.0.0/33"}]}]}]}"#,
    )
    .unwrap();
    std::fs::write(d.join("z-notes.json"), r#"{"hello": "world"}"#).unwrap();
    let args = [
        "scan",
        "-i",
        "z-notes.json",
        "-i",
        "exports",
        "-i",
        "good.json",
        "-o",
        "report.json",
    ];
    let out = run(&args, d);
    let errors = error_lines(&out);
    assert_eq!(out.status.code(), Some(2), "{errors:?}");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].starts_with("exports/a-broken.json: not valid JSON"),
        "{errors:?}"
    );
    assert!(errors[1].starts_with("exports/m-bad-rule.json: ") && errors[1].contains("sg-m"));
    assert!(
        errors[2].starts_with("z-notes.json: not a recognised export"),
        "{errors:?}"
    );
    assert!(
        !d.join("report.json").exists(),
        "a run with bad inputs wrote a report"
    );
    // Without the broken ones the same run succeeds (exit by findings), so the errors were theirs.
    for f in [
        "exports/a-broken.json",
        "exports/m-bad-rule.json",
        "z-notes.json",
    ] {
        std::fs::remove_file(d.join(f)).unwrap();
    }
    let ok = run(
        &[
            "scan",
            "-i",
            "exports",
            "-i",
            "good.json",
            "-o",
            "report.json",
        ],
        d,
    );
    assert_eq!(
        ok.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(d.join("report.json").exists());
}

/// `propose` reads its inputs with the same loader: every bad one is reported.
#[test]
fn propose_reports_every_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.json"), "[1,").unwrap();
    std::fs::write(d.join("b.json"), r#"{"hello": "world"}"#).unwrap();
    let out = run(
        &[
            "propose", "-i", "b.json", "-i", "a.json", "--flows", "flows", "-o", "p.txt",
        ],
        d,
    );
    let errors = error_lines(&out);
    assert_eq!(out.status.code(), Some(2), "{errors:?}");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("a.json: ") && errors[1].starts_with("b.json: "));
    assert!(!d.join("p.txt").exists());
}

/// A config and a rule file with several errors: every one, at its file:line:column with the
/// line underlined, before exit 2 and without a report.
#[test]
fn config_and_rule_errors_point_at_file_line_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("egress-audit.toml"),
        "disabled = [\"EG012\"]\n\n[[suppress]]\ncheck = \"EG099\"\nresource = \"*\"\nreason = \"r\"\n\n[[suppress]]\ncheck = \"EG004\"\nresource = \"*\"\nreason = \"r\"\nexpires = \"2026-13-01\"\n",
    )
    .unwrap();
    std::fs::create_dir(d.join("rules")).unwrap();
    std::fs::write(
        d.join("rules/org.toml"),
        "id = \"ORG1\"\nslug = \"org\"\nseverity = \"high\"\ntitle = \"t\"\nrationale = \"r\"\nremediation = \"m\"\n[query]\nkind = \"reachable\"\ntraffic = [\"tcp/445\", \"tcp/70000\"]\n",
    )
    .unwrap();
    std::fs::write(d.join("sg.json"), r#"{"SecurityGroups": []}"#).unwrap();
    let out = run(
        &["scan", "-i", "sg.json", "--rules", "rules", "-o", "r.json"],
        d,
    );
    let errors = error_lines(&out);
    assert_eq!(out.status.code(), Some(2), "{errors:?}");
    // With a broken catalog the config's check ids cannot be checked yet; its other errors can.
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("egress-audit.toml:12:11: [[suppress]] entry 2"));
    assert!(errors[1].starts_with("rules/org.toml:9:23: ORG1 query: traffic \"tcp/70000\""));
    assert!(!d.join("r.json").exists());
    std::fs::remove_dir_all(d.join("rules")).unwrap();
    let out = run(&["scan", "-i", "sg.json", "-o", "r.json"], d);
    let errors = error_lines(&out);
    assert_eq!(out.status.code(), Some(2), "{errors:?}");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0]
        .starts_with("egress-audit.toml:4:9: [[suppress]] entry 1 check \"EG099\": no such check"));
    assert!(errors[1].starts_with("egress-audit.toml:12:11: [[suppress]] entry 2"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("4 | check = \"EG099\"\n  |         ^^^^^^^\n"),
        "{stderr}"
    );
    assert!(!d.join("r.json").exists());
}
