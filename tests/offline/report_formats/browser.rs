//! The HTML report in a real browser: headless Chromium (Debian package `chromium`, installed by
//! .ci/run) loads the page the binary writes for the bundled examples, and we assert what it
//! rendered: one matrix row per evaluated target, every cause linking to rows that exist, no
//! console message, no network request, and the page's rendered height.

use std::path::Path;
use std::process::Command;

fn chromium() -> &'static str {
    for c in ["chromium", "chromium-browser"] {
        if Command::new(c).arg("--version").output().is_ok() {
            return c;
        }
    }
    panic!("headless Chromium is needed for this test: apt-get install chromium (see .ci/run)");
}

/// The DOM after load, and Chromium's log (console messages go to stderr with `--v=0`).
fn dump_dom(page: &Path, profile: &Path) -> (String, String) {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every value of `attr="…"` on elements whose opening tag contains `marker`.
fn attrs_where(dom: &str, marker: &str, attr: &str) -> Vec<String> {
    dom.split('<')
        .filter(|tag| tag.contains(marker))
        .filter_map(|tag| {
            let start = tag.find(&format!("{attr}=\""))? + attr.len() + 2;
            let end = tag[start..].find('"')? + start;
            Some(tag[start..end].to_string())
        })
        .collect()
}

#[test]
fn html_report_renders_a_matrix_row_per_target_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = dir.path().join("report.html");
    let json = dir.path().join("report.json");
    let status = Command::new(env!("CARGO_BIN_EXE_egress-audit"))
        .args([
            "scan",
            "--quiet",
            "--input",
            "examples/",
            "--fail-on",
            "none",
        ])
        .arg("-o")
        .arg(&page)
        .arg("-o")
        .arg(&json)
        .current_dir(root)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let targets = report["summary"]["targets"].as_u64().unwrap() as usize;

    // The page forbids scripts (CSP); to measure it, a copy gets a script that writes the height
    // into the DOM, and a policy that lets that one inline script run.
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script"), "the report itself has no script");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external asset"
    );
    let measured = html
        .replace("default-src 'none'", "default-src 'none'; script-src 'unsafe-inline'")
        .replace(
            "</body>",
            "<script>document.body.setAttribute('data-height', document.body.scrollHeight)</script></body>",
        );
    let probe = dir.path().join("measured.html");
    std::fs::write(&probe, measured).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let (dom, log) = dump_dom(&probe, profile.path());

    let rows = attrs_where(&dom, "class=\"target\"", "id");
    assert_eq!(rows.len(), targets, "one matrix row per target");
    let links = attrs_where(&dom, "class=\"target-link\"", "href");
    assert!(!links.is_empty(), "causes link to their targets");
    for l in &links {
        let id = l.trim_start_matches('#');
        assert!(rows.iter().any(|r| r == id), "{l} points at no row");
    }
    assert!(dom.contains("Root causes") && dom.contains("Fix:"));
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Refused"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let height: u64 = attrs_where(&dom, "data-height", "data-height")
        .first()
        .expect("the measuring script ran")
        .parse()
        .unwrap();
    println!("rendered height at 1280 px: {height} px for {targets} targets");
    assert!(height < 6000, "the page is {height} px tall");
}
