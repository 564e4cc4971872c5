//! The text formats are streamed to their writer: the bytes are those of the rendered string, and
//! a writer that fails (a full disk) makes the write an error instead of a short report.

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

#[test]
fn streamed_formats_match_the_string_and_return_write_errors() {
    let catalog = catalog();
    let mut report = sample();
    let ctx = Context::new(&report, &catalog, &[]);
    ctx.causes.apply(&mut report);
    for format in [
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
        let io = err
            .downcast_ref::<io::Error>()
            .unwrap_or_else(|| panic!("{format:?}: not the writer's error: {err:#}"));
        assert_eq!(io.kind(), io::ErrorKind::StorageFull, "{format:?}");
        assert_eq!(w.written, whole.as_bytes()[..room], "{format:?}");
        // Nothing is written past the failure: no report with a hole in it.
        assert_eq!(w.after_failure, 1, "{format:?}");
    }
}
