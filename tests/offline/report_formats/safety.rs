//! Outputs that cannot be turned against their reader (issue 12 §3), and the CI-facing details of
//! SARIF, JUnit, CSV and Markdown (issue 11).

use super::*;
use egress_audit::report::{render_with, Context};

/// A name an attacker controls: terminal escapes (window title, clear screen), a formula, a
/// Markdown link, image and mention, and a bare CR.
const EVIL: &str =
    "=HYPERLINK(\"http://x\")\u{1b}]0;pwned\u{7}\u{1b}[2J\r[click](https://evil.example) ![i](https://evil.example/i.png) @org/admins www.evil.example";

fn evil_report() -> Report {
    let mut report = sample();
    for f in &mut report.findings {
        f.resource_name = Some(EVIL.into());
        f.message = format!("{EVIL} is open");
        for e in &mut f.evidence {
            std::sync::Arc::make_mut(&mut e.written).name = format!("{EVIL} rule").into();
        }
    }
    report.warnings[0].message = EVIL.into();
    report
}

#[test]
fn table_never_sends_control_characters_from_inputs() {
    let text = render_table(&evil_report(), 100);
    for bad in ['\u{1b}', '\u{7}', '\r', '\0'] {
        assert!(!text.contains(bad), "{bad:?} reached the terminal");
    }
    assert!(text.contains("\\u{1b}]0;pwned"), "shown escaped");
}

#[test]
fn csv_neutralises_formula_cells() {
    let mut report = evil_report();
    report.findings[0].resource_id = "+cmd|' /C calc'!A0".into();
    report.findings[1].rule = Some("-2+3".into());
    report.findings[2].account = Some("@SUM(1)".into());
    report.findings[3].resource_id = "\tx".into();
    let text = render(&report, Format::Csv, &catalog()).unwrap();
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let mut checked = 0;
    for row in rdr.records() {
        for cell in row.unwrap().iter() {
            checked += 1;
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "formula cell {cell:?}"
            );
        }
    }
    assert!(checked > 100);
    assert!(text.contains("'+cmd|"), "kept, with a leading quote");
}

#[test]
fn markdown_has_no_links_images_mentions_or_raw_cr_from_inputs() {
    let md = render(&evil_report(), Format::Markdown, &catalog()).unwrap();
    assert!(!md.contains('\r'), "CR is a line break like LF");
    assert!(!md.contains('\u{1b}'));
    for bad in ["](", "![", "https://", "http://", "@org", "www.evil"] {
        assert!(!md.contains(bad), "{bad:?} in Markdown:\n{md}");
    }
    // Still readable: the characters are written as references.
    assert!(md.contains("&#91;click&#93;"));
}

#[test]
fn markdown_stays_under_the_job_summary_limit_with_a_note() {
    let mut report = sample();
    let template = report.findings[0].clone();
    for i in 0..6000 {
        let mut f = template.clone();
        f.resource_id = format!("sg-{i:08}").into();
        f.message = "x".repeat(200);
        report.findings.push(f);
    }
    report.recount();
    let md = render(&report, Format::Markdown, &catalog()).unwrap();
    assert!(md.len() <= 1024 * 1024, "{} bytes", md.len());
    assert!(md.contains("**Truncated:**"), "says so");
    let note = md.lines().find(|l| l.contains("**Truncated:**")).unwrap();
    assert!(note.contains("rows left out"), "{note}");
}

#[test]
fn sarif_results_have_a_region_and_rules_have_help_and_a_repository_doc_path() {
    let text = render(&sample(), Format::Sarif, &catalog()).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let errors = schema_errors(&sarif_validator(), &doc);
    assert!(errors.is_empty(), "{errors:#?}");
    let run = &doc["runs"][0];
    for r in run["results"].as_array().unwrap() {
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["region"]["startLine"], 1, "{r}");
        assert!(r["properties"]["cause"].is_string(), "{r}");
    }
    for rule in run["tool"]["driver"]["rules"].as_array().unwrap() {
        // helpUri must be absolute (SARIF §3.49.12): the repository path is a property instead,
        // and nothing links outside the repository.
        assert!(rule.get("helpUri").is_none());
        let path = rule["properties"]["helpPath"].as_str().unwrap();
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        assert!(file.is_file(), "{path} is not in the repository");
        let help = rule["help"]["text"].as_str().unwrap();
        assert!(help.contains("Remediation:"), "{help}");
        assert!(help.contains("Compliance:"), "{help}");
        assert!(help.contains(path), "{help}");
        assert!(!rule["properties"]["tags"].as_array().unwrap().is_empty());
    }
}

#[test]
fn junit_fails_only_at_or_above_the_gate() {
    let report = sample();
    let cat = catalog();
    let mut ctx = Context::new(&report, &cat, &[]);
    ctx.gate = Some(Severity::High);
    let xml = render_with(&report, Format::Junit, &ctx).unwrap();
    let elements = parse_junit(&xml);
    let failures = elements.iter().filter(|e| e.0 == "failure").count();
    let highs = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_none() && f.severity >= Severity::High)
        .count();
    assert_eq!(failures, highs, "{xml}");
    let root = elements.iter().find(|e| e.0 == "testsuites").unwrap();
    assert_eq!(attr(&root.1, "failures"), highs.to_string());
    // Below the gate: reported, not failed.
    assert!(xml.contains("below the --fail-on gate"), "{xml}");
    ctx.gate = None;
    let xml = render_with(&report, Format::Junit, &ctx).unwrap();
    assert!(!parse_junit(&xml).iter().any(|e| e.0 == "failure"));
}

#[cfg(unix)]
#[test]
fn write_atomic_never_writes_through_a_planted_symlink_and_keeps_the_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The name the old code used for its temporary file, planted as a symlink to a victim.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let planted = dir
        .path()
        .join(format!(".report.json.{}.tmp", std::process::id()));
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    write_atomic(&path, b"new").unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the existing file's mode is kept");
}

/// A write that fails half-way (the file-size limit, EFBIG) leaves no temporary file behind.
#[cfg(unix)]
#[test]
fn a_failed_write_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    // `trap '' XFSZ` is inherited through exec, so the write fails with EFBIG instead of the
    // signal killing the process; `ulimit -f 4` allows a few KiB, the report is larger.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 4; exec '{}' scan --quiet --input '{}' --format json --output '{}'",
            env!("CARGO_BIN_EXE_egress-audit"),
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples")
                .display(),
            out.display()
        ))
        // Piped, not inherited: an inherited stderr that is a file (CI logs) is over the size
        // limit too, and the error message could not be written.
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "the write error is an error: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.is_empty(), "left behind: {names:?}");
}
