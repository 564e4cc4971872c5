//! Golden reports: every bundled example scenario, scanned end to end, must give exactly the JSON
//! report stored in tests/golden/. After a deliberate change, regenerate with
//! `EGRESS_AUDIT_BLESS=1 cargo test --workspace --all-features --test offline golden::` and review the diff.

use std::path::Path;
use std::process::Command;

fn scenarios() -> Vec<(String, std::path::PathBuf)> {
    let mut out = Vec::new();
    for cloud in ["aws", "azure", "gcp"] {
        // Relative paths, so that warnings name the same files on every machine.
        let dir = Path::new("examples").join(cloud);
        let mut entries: Vec<_> =
            std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(&dir))
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect();
        entries.sort();
        for p in entries {
            let leaf = p.file_name().unwrap().to_string_lossy().to_string();
            out.push((format!("{cloud}-{leaf}"), dir.join(leaf)));
        }
    }
    out
}

#[test]
fn example_reports_match_their_golden_files() {
    let bless = std::env::var_os("EGRESS_AUDIT_BLESS").is_some();
    let mut failures = Vec::new();
    let list = scenarios();
    assert!(
        list.len() >= 9,
        "three scenarios per cloud, found {}",
        list.len()
    );
    for (name, dir) in list {
        let out = Command::new(env!("CARGO_BIN_EXE_egress-audit"))
            .args(["scan", "--format", "json", "--input"])
            .arg(&dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{name}: exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["tool"]["version"] = "VERSION".into();
        // The scan time changes on every run; its format is checked by the report schema test.
        report["scanned_at"] = "SCANNED_AT".into();
        let text = serde_json::to_string_pretty(&report).unwrap() + "\n";
        let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(format!("{name}.json"));
        if bless {
            std::fs::write(&golden, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if want != text {
            failures.push(format!(
                "{name}: report differs from {} (EGRESS_AUDIT_BLESS=1 regenerates it)",
                golden.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
