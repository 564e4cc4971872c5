//! Text renderers write through [`std::fmt::Write`]; [`IoSink`] carries that to an
//! [`std::io::Write`], so a large estate's report goes out piece by piece instead of as one
//! string of the whole document.

use std::{fmt, io};

/// `fmt::Write` over an `io::Write`. `fmt::Error` carries no cause, so the first `io::Error` is
/// kept here and returned by [`IoSink::finish`]: a full disk is an error, not a short report.
/// After a failure nothing more is written (a report with a hole is worse than a short one).
pub(crate) struct IoSink<'w> {
    inner: &'w mut dyn io::Write,
    error: Option<io::Error>,
}

impl<'w> IoSink<'w> {
    pub(crate) fn new(inner: &'w mut dyn io::Write) -> Self {
        IoSink { inner, error: None }
    }

    /// The renderer's result, with the writer's error in place of a bare `fmt::Error`.
    pub(crate) fn finish(self, rendered: anyhow::Result<()>) -> anyhow::Result<()> {
        match self.error {
            Some(e) => Err(e.into()),
            None => rendered,
        }
    }
}

impl fmt::Write for IoSink<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.error.is_some() {
            return Err(fmt::Error);
        }
        self.inner.write_all(s.as_bytes()).map_err(|e| {
            self.error = Some(e);
            fmt::Error
        })
    }
}

/// Text written through `fmt::Write` to an `io::Write`, with the writer's error kept.
pub(crate) fn write_text(
    w: &mut dyn io::Write,
    text: impl FnOnce(&mut dyn fmt::Write) -> fmt::Result,
) -> anyhow::Result<()> {
    let mut sink = IoSink::new(w);
    let written = text(&mut sink).map_err(anyhow::Error::from);
    sink.finish(written)
}
