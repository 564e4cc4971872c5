//! Text from inputs, made safe for the reader's terminal, spreadsheet or Markdown viewer.
//!
//! Resource names, rule names and descriptions come from the scanned account: whoever can name a
//! security group can put an escape sequence (clear the screen, set the window title, hide text),
//! a spreadsheet formula or a Markdown link in them. Each output escapes them at its boundary.

/// Control characters shown as escapes: C0 (ESC, BEL, CR, NUL, …), DEL, C1 (CSI 0x9B, OSC 0x9D)
/// and the bidirectional overrides that reorder what is displayed. `\n` is kept only when
/// `keep_newline` (our own multi-line cells); a lone CR never is.
pub fn escape_controls(s: &str, keep_newline: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' if keep_newline => out.push('\n'),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_dangerous(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

fn is_dangerous(c: char) -> bool {
    let u = u32::from(c);
    u < 0x20
        || (0x7f..=0x9f).contains(&u)
        || matches!(u, 0x200e | 0x200f | 0x202a..=0x202e | 0x2066..=0x2069)
}

/// A CSV cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets
/// a leading `'`, as OWASP recommends; the quote shows, the formula does not run.
pub fn csv_safe(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        let name = "web\u{1b}]0;pwned\u{7}\u{1b}[2J\r\0\u{9b}x\u{202e}";
        let out = escape_controls(name, false);
        assert!(!out.chars().any(is_dangerous), "{out:?}");
        assert_eq!(
            out,
            "web\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\r\\u{0}\\u{9b}x\\u{202e}"
        );
        assert_eq!(escape_controls("a\nb", true), "a\nb");
        assert_eq!(escape_controls("a\nb", false), "a\\nb");
    }

    #[test]
    fn neutralises_formula_cells() {
        for bad in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_safe(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(csv_safe("sg-1"), "sg-1");
    }
}
