//! One folder per check under `tests/fixtures/rules/<ID>/` (as ruff keeps a fixture per rule):
//! the files in its `input/`, scanned with that check alone, give exactly the findings in its
//! `expected.txt`. A new check adds its folder and nothing here changes. After a deliberate
//! change, `EGRESS_AUDIT_BLESS=1 cargo test --workspace --all-features --test offline
//! rule_fixtures::` rewrites the expected files; review the diff.

use crate::inputs;
use egress_audit::model::Finding;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `CHECK resource | message`, one line per finding, in report order.
fn lines(f: &[Finding]) -> String {
    f.iter()
        .map(|x| format!("{} {} | {}\n", x.check_id, x.resource_id, x.message))
        .collect()
}

fn folders(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

#[test]
fn each_rule_fixture_gives_its_expected_findings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules");
    let bless = std::env::var_os("EGRESS_AUDIT_BLESS").is_some();
    let dirs = folders(&root);
    assert!(!dirs.is_empty(), "no rule fixtures in {}", root.display());
    let mut failures = Vec::new();
    for dir in dirs {
        // The folder's name is the check's id: an id that is not built in fails the selection.
        let id = dir.file_name().unwrap().to_string_lossy().to_string();
        let (inv, f) = inputs::scan_paths(&[dir.join("input")], &[id.as_str()]);
        // A fixture shows the check firing and a resource it leaves alone, so it can fail.
        let fired: BTreeSet<&str> = f.iter().map(|x| x.resource_id.as_str()).collect();
        assert!(!fired.is_empty(), "{id}: the fixture gives no finding");
        assert!(
            inv.targets.len() > fired.len(),
            "{id}: the fixture needs a resource the check does not fire on"
        );
        let text = lines(&f);
        let expected = dir.join("expected.txt");
        if bless {
            std::fs::write(&expected, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&expected).unwrap_or_default();
        if want != text {
            failures.push(format!(
                "{id}: findings differ from {} (EGRESS_AUDIT_BLESS=1 regenerates it)\n{text}",
                expected.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
