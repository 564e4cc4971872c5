//! Errors in TOML files (the config, rule files) that point at the value at fault, the way
//! cargo-deny does: `FILE:LINE:COLUMN: message`, then the line with the value underlined.
//!
//! Positions come from the spans the `toml` crate keeps: the parse error's own span, or the span of
//! a key or value looked up by its path in the spanned document ([`toml::de::DeTable`]), so the
//! typed structs the rest of the engine reads stay plain.

use std::fmt;
use std::ops::Range;

/// One error at one place in a TOML file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based; 0 when the value was not read from a file (a config built in code).
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub kind: DiagnosticKind,
    /// The source line and how many characters to underline from `column`.
    snippet: Option<(String, usize)>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.kind)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.kind
            )
        }
    }
}

impl std::error::Error for Diagnostic {}

impl Diagnostic {
    /// The offending line with the value underlined (`  14 | check = "EG099"` / `     |         ^^^^^^^`),
    /// or nothing when there is no source.
    pub fn snippet(&self) -> Option<String> {
        let (text, width) = self.snippet.as_ref()?;
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        // A tab shown as one space keeps the underline under the value.
        let text = text.replace('\t', " ");
        let lead = " ".repeat(self.column - 1);
        Some(format!(
            "{pad} |\n{number} | {text}\n{pad} | {lead}{}",
            "^".repeat((*width).max(1))
        ))
    }
}

/// What is wrong. Every kind keeps the names a user searches the file for (entry number, check id,
/// the value as written).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiagnosticKind {
    /// TOML syntax, an unknown key, a value of the wrong type: the `toml` crate's message.
    #[error("invalid {what}: {message}")]
    Invalid { what: &'static str, message: String },
    /// A check id or slug no rule defines.
    #[error("{field} {id:?}: no such check id or slug (known: {known}; `egress-audit rules` lists them)")]
    UnknownCheck {
        field: String,
        id: String,
        known: String,
    },
    /// A traffic spec or destination list that does not parse.
    #[error("{field}: {message}")]
    BadValue { field: String, message: String },
    /// An `[[authorized]]` entry whose traffic has no public address.
    #[error(
        "[[authorized]] entry {entry} (traffic {traffic:?}) names no public address (private, \
         documentation and benchmark ranges such as 198.18.0.0/15 are not internet egress), so it \
         would authorize nothing"
    )]
    NoPublicAddress { entry: usize, traffic: String },
    #[error("window_days must be at least 1")]
    ZeroWindow,
    /// A rule file's `[query]` that cannot run.
    #[error("{id} query: {message}")]
    BadQuery { id: String, message: String },
    #[error("`{field}` must not be empty")]
    Empty { field: &'static str },
    /// Two rule files define one check id.
    #[error("check id {id} is already defined by {previous}; pick another id")]
    DuplicateId { id: String, previous: String },
}

/// Every error found in one pass, sorted by file and position, so a user fixes them all at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn sorted(mut list: Vec<Diagnostic>) -> Diagnostics {
        list.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        Diagnostics(list)
    }

    /// `Ok` when nothing was found.
    pub fn into_result(list: Vec<Diagnostic>) -> Result<(), Diagnostics> {
        if list.is_empty() {
            Ok(())
        } else {
            Err(Diagnostics::sorted(list))
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// One step of a path into a TOML document: a key or an array index.
#[derive(Clone, Copy, Debug)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// A TOML file's text, parsed with spans, to turn paths and byte ranges into diagnostics.
pub struct Source<'a> {
    file: &'a str,
    text: &'a str,
    doc: Option<toml::de::DeValue<'a>>,
}

impl<'a> Source<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Source<'a> {
        // A file that does not parse has its error from `toml::from_str`, with its own span.
        let doc = toml::de::DeTable::parse(text)
            .ok()
            .map(|t| toml::de::DeValue::Table(t.into_inner()));
        Source { file, text, doc }
    }

    /// 1-based line and character column of a byte offset.
    fn line_column(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (
            before.matches('\n').count() + 1,
            before[line_start..].chars().count() + 1,
        )
    }

    /// `FILE:LINE:COLUMN` of the value at `path`, for a message that points at a second place.
    pub fn position(&self, path: &[Seg]) -> String {
        let (line, column) = self.line_column(self.find(path, false).start);
        format!("{}:{line}:{column}", self.file)
    }

    /// A diagnostic at a byte range of the text.
    pub fn at(&self, span: Range<usize>, kind: DiagnosticKind) -> Diagnostic {
        let start = span.start.min(self.text.len());
        let (line, column) = self.line_column(start);
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let line_text = self.text[line_start..line_end].trim_end_matches('\r');
        let end = span.end.clamp(start, line_end);
        Diagnostic {
            file: self.file.to_string(),
            line,
            column,
            kind,
            snippet: Some((line_text.to_string(), self.text[start..end].chars().count())),
        }
    }

    /// A diagnostic at the value found by `path`, or at the deepest part of the path that exists
    /// (the table of a missing key): the exact cause where there is one.
    pub fn value(&self, path: &[Seg], kind: DiagnosticKind) -> Diagnostic {
        self.at(self.find(path, false), kind)
    }

    /// As [`Source::value`], but at the last key itself (`[severity]`'s `EG099 = …`: the key is
    /// what is wrong, not the severity).
    pub fn key(&self, path: &[Seg], kind: DiagnosticKind) -> Diagnostic {
        self.at(self.find(path, true), kind)
    }

    fn find(&self, path: &[Seg], want_key: bool) -> Range<usize> {
        let Some(mut cur) = self.doc.as_ref() else {
            return 0..0;
        };
        let mut span = 0..0;
        for (i, seg) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            let next = match (seg, cur) {
                (Seg::Key(k), toml::de::DeValue::Table(t)) => t
                    .iter()
                    .find(|(key, _)| key.get_ref() == k)
                    .map(|(key, v)| {
                        (
                            if last && want_key {
                                key.span()
                            } else {
                                v.span()
                            },
                            v,
                        )
                    }),
                (Seg::Index(n), toml::de::DeValue::Array(a)) => a.get(*n).map(|v| (v.span(), v)),
                _ => None,
            };
            let Some((s, v)) = next else { break };
            span = s;
            cur = v.get_ref();
        }
        span
    }

    /// A `toml` parse or type error, at its own span when it has one.
    pub fn parse_error(&self, what: &'static str, e: &toml::de::Error) -> Diagnostic {
        let kind = DiagnosticKind::Invalid {
            what,
            message: e.message().trim_end().to_string(),
        };
        self.at(e.span().unwrap_or(0..0), kind)
    }
}

/// A diagnostic with no position, for values built in code rather than read from a file.
pub fn unplaced(file: &str, kind: DiagnosticKind) -> Diagnostic {
    Diagnostic {
        file: file.to_string(),
        line: 0,
        column: 0,
        kind,
        snippet: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_character_columns() {
        let text = "a = 1\n[[s]]\ncheck = \"é\"\n[[s]]\ncheck = \"EG099\"\n";
        let src = Source::new("c.toml", text);
        let d = src.value(
            &[Seg::Key("s"), Seg::Index(1), Seg::Key("check")],
            DiagnosticKind::ZeroWindow,
        );
        assert_eq!((d.line, d.column), (5, 9), "{d}");
        assert_eq!(d.to_string(), "c.toml:5:9: window_days must be at least 1");
        assert_eq!(
            d.snippet().unwrap(),
            "  |\n5 | check = \"EG099\"\n  |         ^^^^^^^"
        );
        let k = src.key(&[Seg::Key("a")], DiagnosticKind::ZeroWindow);
        assert_eq!((k.line, k.column), (1, 1));
        // A missing key points at its table.
        let t = src.value(
            &[Seg::Key("s"), Seg::Index(0), Seg::Key("nope")],
            DiagnosticKind::ZeroWindow,
        );
        assert_eq!(t.line, 2, "{t}");
        let q = Source::new("r.toml", "id = 1\n[query]\nkind = 2\n");
        let missing = q.value(
            &[Seg::Key("query"), Seg::Key("targets")],
            DiagnosticKind::ZeroWindow,
        );
        assert_eq!((missing.line, missing.column), (2, 1), "{missing}");
        assert_eq!(
            q.position(&[Seg::Key("query"), Seg::Key("kind")]),
            "r.toml:3:8"
        );
    }
}
