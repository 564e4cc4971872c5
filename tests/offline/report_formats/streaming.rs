//! Every format is streamed to its writer: the bytes are those of the rendered string (also when
//! the findings are rendered on several threads, in chunks), and a writer that fails (a full
//! disk) makes the write an error instead of a short report.

use super::{catalog, sample};
use egress_audit::report::{render_with, write_report, Context, Format};
use std::io::{self, Write};

/// Accepts `room` bytes, then fails every write; counts the writes tried after the failure.
struct FailAfter {
    written: Vec<u8>,
    room: usize,
    after_failure: usize,
}

impl Write for FailAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.room - self.written.len();
        if left == 0 {
            self.after_failure += 1;
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        let n = buf.len().min(left);
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The sample's findings many times over: more than one chunk of findings (and causes) per
/// thread.
fn large() -> egress_audit::model::Report {
    let mut report = sample();
    let one = report.findings.clone();
    for i in 0..400 {
        report.findings.extend(one.iter().cloned().map(|mut f| {
            f.resource_id = format!("{}-{i}", f.resource_id).into();
            // Other rules too: thousands of causes, so that the HTML's causes take many chunks.
            for e in &mut f.evidence {
                let written = std::sync::Arc::make_mut(&mut e.written);
                written.name = format!("{}-{i}", written.name).into();
            }
            f
        }));
    }
    report.recount();
    report
}

#[test]
fn streamed_formats_match_the_string_and_return_write_errors() {
    for report in [sample(), large()] {
        check_streamed(report);
    }
}

fn check_streamed(mut report: egress_audit::model::Report) {
    let catalog = catalog();
    let ctx = Context::new(&report, &catalog, &[]);
    ctx.causes.apply(&mut report);
    for format in [
        Format::Json,
        Format::Sarif,
        Format::Csv,
        Format::Junit,
        Format::Html,
        Format::Markdown,
        Format::Table,
    ] {
        let whole = render_with(&report, format, &ctx).unwrap();
        let mut streamed = Vec::new();
        write_report(&report, format, &ctx, &mut streamed).unwrap();
        assert_eq!(
            String::from_utf8(streamed).unwrap(),
            whole,
            "{format:?}: streamed bytes differ from the rendered string"
        );

        let room = whole.len() / 2;
        let mut w = FailAfter {
            written: Vec::new(),
            room,
            after_failure: 0,
        };
        let err = write_report(&report, format, &ctx, &mut w)
            .expect_err(&format!("{format:?}: a failed write must be an error"));
        // The writer's error, as itself or under the serializer's.
        let kind = err
            .downcast_ref::<io::Error>()
            .map(io::Error::kind)
            .or_else(|| {
                err.downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            })
            .unwrap_or_else(|| panic!("{format:?}: not the writer's error: {err:#}"));
        assert_eq!(kind, io::ErrorKind::StorageFull, "{format:?}");
        assert_eq!(w.written, whole.as_bytes()[..room], "{format:?}");
        // Nothing is written past the failure: no report with a hole in it.
        assert_eq!(w.after_failure, 1, "{format:?}");
    }
}
