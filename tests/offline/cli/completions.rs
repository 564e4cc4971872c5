//! `completions bash|zsh|fish`: each script is accepted by its shell (or, for a shell that is not
//! installed, has the structure that shell needs) and completes the subcommands and flags.

use super::{root, run};
use std::process::Command;

fn script(shell: &str) -> String {
    let out = run(&["completions", shell], root());
    assert_eq!(out.status.code(), Some(0), "{shell}");
    let text = String::from_utf8(out.stdout).unwrap();
    for word in [
        "scan",
        "probe",
        "serve",
        "rules",
        "completions",
        "fail-on",
        "input",
    ] {
        assert!(text.contains(word), "{shell}: {word} missing");
    }
    text
}

fn installed(shell: &str) -> bool {
    Command::new(shell)
        .args(["-c", "exit 0"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `shell -n` (parse, do not execute) on the script.
fn parses(shell: &str, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("egress-audit.{shell}"));
    std::fs::write(&file, text).unwrap();
    let out = Command::new(shell).arg("-n").arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "{shell} -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bash_completion_parses_and_completes() {
    let text = script("bash");
    assert!(
        text.contains("complete -F _egress__audit -o nosort"),
        "registers itself"
    );
    parses("bash", &text);
    // Loaded into a shell, it completes the subcommands of `egress-audit `.
    let probe = format!(
        "{text}\nCOMP_WORDS=(egress-audit sc); COMP_CWORD=1; COMP_LINE='egress-audit sc'; \
         COMP_POINT=${{#COMP_LINE}}; _egress__audit egress-audit sc egress-audit; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(words.lines().any(|w| w == "scan"), "{words}");
}

#[test]
fn zsh_completion_is_a_compdef() {
    let text = script("zsh");
    assert!(text.starts_with("#compdef egress-audit"), "{}", &text[..40]);
    assert!(text.contains("_egress-audit"));
    if installed("zsh") {
        parses("zsh", &text);
    }
}

#[test]
fn fish_completion_declares_each_subcommand() {
    let text = script("fish");
    for sub in ["scan", "collect", "rules", "probe", "serve", "completions"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("complete -c egress-audit")
                    && l.contains(&format!("-a \"{sub}\""))),
            "fish: no completion for {sub}"
        );
    }
    if installed("fish") {
        parses("fish", &text);
    }
}
