//! The project documents itself: nothing links outside the repository, and the counts the README
//! and the example folders' READMEs state are the ones the binary prints.

use super::{root, run};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Tracked files (`git ls-files`), or every file below the root but `target/` and `.git/` when
/// this is not a git checkout (a source tarball).
fn tracked_files() -> Vec<PathBuf> {
    let out = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root())
        .output();
    if let Some(out) = out
        .ok()
        .filter(|o| o.status.success() && !o.stdout.is_empty())
    {
        return out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect();
    }
    let mut files = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(root().join(&d)).unwrap().flatten() {
            let rel = d.join(e.file_name());
            if rel == Path::new("target") || rel == Path::new(".git") {
                continue;
            }
            if e.path().is_dir() {
                dirs.push(rel);
            } else {
                files.push(rel);
            }
        }
    }
    files
}

/// Resolves `link` relative to `file`'s folder; None when it leaves the repository.
fn inside_repo(file: &Path, link: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in file
        .parent()
        .unwrap_or(Path::new(""))
        .join(link)
        .components()
    {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Markdown link targets: `[text](target)` and `[id]: target`.
fn markdown_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let end = after.find(')').unwrap_or(after.len());
            links.push(
                after[..end]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            );
            rest = &after[end..];
        }
        let t = line.trim_start();
        if let (true, Some(i)) = (t.starts_with('['), t.find("]: ")) {
            links.push(t[i + 3..].trim().to_string());
        }
    }
    links
}

/// Web addresses in `text`: everything from `http://` or `https://` up to a delimiter.
fn urls(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(i) = rest.find("http") {
            let cand = &rest[i..];
            if cand.starts_with("http://") || cand.starts_with("https://") {
                let end = cand
                    .find(|c: char| c.is_whitespace() || "\"'<>)`]".contains(c))
                    .unwrap_or(cand.len());
                // A bare scheme (`http://` in a sentence about URLs) links nowhere.
                if !cand[..end].ends_with("://") {
                    out.push((n, cand[..end].to_string()));
                }
                rest = &cand[end..];
            } else {
                rest = &cand[4..];
            }
        }
    }
    out
}

/// The prose of a file, where a web address would be a link for a reader to follow: whole
/// Markdown, TOML, YAML, scripts and text files; the comments of Rust files; the schemas. JSON
/// data (exports, fixtures, goldens) is what the tool reads, and `LICENSE` is verbatim legal text.
fn prose(path: &Path, text: &str) -> Option<String> {
    let name = path.to_string_lossy();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if name == "LICENSE" || name == "Cargo.lock" {
        return None;
    }
    match ext {
        "rs" => Some(
            text.lines()
                .map(|l| {
                    // A comment starts at `//` not preceded by `:` (which would be a URL's).
                    let at = l
                        .match_indices("//")
                        .find(|(i, _)| *i == 0 || !l[..*i].ends_with(':'))
                        .map(|(i, _)| i);
                    at.map(|i| &l[i..]).unwrap_or("")
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        "json" if name.starts_with("schemas/") => Some(text.to_string()),
        "json" | "lock" | "pem" | "key" | "proptest-regressions" => None,
        _ => Some(text.to_string()),
    }
}

/// Web addresses a reader may meet in the prose, and why each is not a link outside the project.
fn allowed(url: &str, line: &str, repository: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':', '?', '#'])
        .next()
        .unwrap_or("");
    // The project itself.
    url.trim_end_matches('/') == repository
        // JSON Schema `$schema` / `$id` values are identifiers validators match, not links.
        || line.contains("\"$schema\"") || line.contains("\"$id\"")
        // Loopback and reserved names (RFC 2606 / 6761) never leave the machine.
        || matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "{}")
        || host.ends_with(".invalid")
        || host.ends_with(".example")
        || host.ends_with(".test")
        || matches!(host, "example.com" | "example.net" | "example.org")
        // The Compute API names resources by URL: comments show the shape of such fields.
        || url.starts_with("https://www.googleapis.com/compute/v1/projects/")
}

#[test]
fn nothing_links_outside_the_repository() {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let repository = cargo
        .lines()
        .find_map(|l| l.strip_prefix("repository = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("Cargo.toml names the repository");
    let mut problems = Vec::new();
    let files = tracked_files();
    assert!(files.len() > 100, "only {} files found", files.len());
    for file in files {
        let Ok(text) = std::fs::read_to_string(root().join(&file)) else {
            continue; // not text
        };
        let shown = file.display();
        // Built at run time, so that this file does not name them itself.
        let outside = [["..", "/shared"].concat(), ["/work", "/"].concat()];
        for bad in &outside {
            if text.contains(bad.as_str()) {
                problems.push(format!("{shown}: mentions {bad}, outside the repository"));
            }
        }
        if file.extension().is_some_and(|e| e == "md") {
            for link in markdown_links(&text) {
                let target = link.split('#').next().unwrap_or("");
                if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                    continue; // an anchor, or a web address (judged below)
                }
                match inside_repo(&file, target) {
                    None => problems.push(format!("{shown}: link {link} leaves the repository")),
                    Some(p) if !root().join(&p).exists() => {
                        problems.push(format!("{shown}: link {link} points to nothing"))
                    }
                    Some(_) => {}
                }
            }
        }
        let Some(prose) = prose(&file, &text) else {
            continue;
        };
        let lines: Vec<&str> = prose.lines().collect();
        for (n, url) in urls(&prose) {
            if !allowed(&url, lines[n], repository) {
                problems.push(format!("{shown}: links outside the repository: {url}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_link_check_catches_what_it_should() {
    let shared = ["..", "/shared/CHECKS.md"].concat();
    assert_eq!(inside_repo(Path::new("README.md"), &shared), None);
    assert_eq!(
        inside_repo(Path::new("docs/README.md"), "../rules/"),
        Some(PathBuf::from("rules"))
    );
    assert_eq!(
        markdown_links(&format!(
            "see [the contract]({shared}#1) and [x](docs/A.md)"
        )),
        vec![format!("{shared}#1"), "docs/A.md".to_string()]
    );
    let repo = "https://github.com/egress-audit/egress-audit";
    let found = urls("a <https://evil.example.org/x> and (https://docs.rs/clap)");
    assert_eq!(found[1].1, "https://docs.rs/clap");
    assert!(!allowed("https://docs.rs/clap", "", repo));
    assert!(!allowed("https://github.com/someone/else", "", repo));
    assert!(allowed(repo, "", repo));
    assert!(allowed(
        "https://json-schema.org/draft/2020-12/schema",
        r#"  "$schema": "https://json-schema.org/draft/2020-12/schema","#,
        repo
    ));
    assert!(allowed("http://127.0.0.1:8080/x", "", repo));
    let comment = "/".repeat(2);
    let rust = prose(
        Path::new("src/x.rs"),
        &format!("let u = \"https://api.example.com\"; {comment} see https://docs.rs/x\n"),
    )
    .unwrap();
    assert_eq!(urls(&rust)[0].1, "https://docs.rs/x");
}

/// Counts as the README's summary line states them: `24 targets · 136 findings (36 high, …)`.
fn summary_counts(line: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || "·(),".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    for pair in words.windows(2) {
        if let Ok(n) = pair[0].parse::<u64>() {
            let key = pair[1].trim_end_matches('s').to_string();
            out.insert(key, n);
        }
    }
    out
}

/// The same counts from a JSON report.
fn report_counts(report: &Value) -> BTreeMap<String, u64> {
    let s = &report["summary"];
    let mut out = BTreeMap::new();
    out.insert("target".into(), s["targets"].as_u64().unwrap());
    out.insert("finding".into(), s["findings"].as_u64().unwrap());
    for (sev, n) in s["by_severity"].as_object().unwrap() {
        out.insert(sev.clone(), n.as_u64().unwrap());
    }
    let warnings = report["warnings"].as_array().unwrap().len() as u64;
    if warnings > 0 {
        out.insert("warning".into(), warnings);
    }
    out
}

fn scan_json(input: &str) -> Value {
    let out = run(
        &[
            "scan",
            "--input",
            input,
            "--fail-on",
            "critical",
            "--format",
            "json",
        ],
        root(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn readme_summary_line_is_what_the_binary_prints() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains("cargo run --release -- scan --input examples/ --fail-on critical"),
        "the README's main command changed: update this test"
    );
    // Whatever the layout: the first line that counts targets and findings.
    let line = readme
        .lines()
        .find(|l| {
            let c = summary_counts(l);
            c.contains_key("target") && c.contains_key("finding")
        })
        .expect("the README shows the summary line of the main command");
    let stated = summary_counts(line);
    let report = scan_json("examples/");
    assert_eq!(
        stated,
        report_counts(&report),
        "README.md says `{line}`; the binary's JSON report of the same scan counts otherwise"
    );
    // The README's command as written (table): it succeeds and prints the same numbers,
    // whatever the layout.
    let table = run(
        &[
            "scan",
            "--input",
            "examples/",
            "--fail-on",
            "critical",
            "--format",
            "table",
        ],
        root(),
    );
    assert_eq!(table.status.code(), Some(0));
    let text = String::from_utf8_lossy(&table.stdout);
    let numbers: Vec<u64> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    for (what, n) in &stated {
        assert!(numbers.contains(n), "the table does not show {n} ({what})");
    }
}

/// A `findings` block of an example README: the scan command, then `key: value` lines.
#[derive(Debug)]
struct Stated {
    input: String,
    counts: BTreeMap<String, u64>,
}

fn stated_blocks(text: &str) -> Vec<Stated> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l.trim() != "```findings" {
            continue;
        }
        let cmd = lines.next().unwrap_or_default();
        let input = cmd
            .split_once("--input ")
            .map(|(_, rest)| rest.split_whitespace().next().unwrap_or("").to_string())
            .unwrap_or_default();
        let mut counts = BTreeMap::new();
        for l in lines.by_ref().take_while(|l| l.trim() != "```") {
            let (key, value) = l.split_once(':').expect("`key: value`");
            match key.trim() {
                "checks" => {
                    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        let (id, n) = item.split_once(' ').expect("`EG001 2`");
                        counts.insert(id.to_string(), n.trim().parse().unwrap());
                    }
                }
                "findings" => {
                    // `27 (10 high, 17 medium)` reads like the summary line's `27 findings (…)`.
                    let v = value.trim();
                    let (n, rest) = v.split_once(' ').unwrap_or((v, ""));
                    for (k, n) in summary_counts(&format!("{n} findings {rest}")) {
                        counts.insert(k, n);
                    }
                }
                k => {
                    counts.insert(
                        k.trim_end_matches('s').into(),
                        value.trim().parse().unwrap(),
                    );
                }
            }
        }
        out.push(Stated { input, counts });
    }
    out
}

#[test]
fn example_readmes_state_what_the_binary_finds() {
    let mut checked = 0;
    for cloud in ["aws", "azure", "gcp"] {
        let path = format!("examples/{cloud}/README.md");
        let text = std::fs::read_to_string(root().join(&path)).unwrap();
        let blocks = stated_blocks(&text);
        assert_eq!(blocks.len(), 3, "{path}: one findings block per scenario");
        for b in blocks {
            let report = scan_json(&b.input);
            let mut counts = report_counts(&report);
            for f in report["findings"].as_array().unwrap() {
                *counts
                    .entry(f["check_id"].as_str().unwrap().to_string())
                    .or_default() += 1;
            }
            assert_eq!(b.counts, counts, "{path}: the block for {}", b.input);
            checked += 1;
        }
    }
    assert_eq!(checked, 9);
}
