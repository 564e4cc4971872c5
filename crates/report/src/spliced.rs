//! A JSON document whose one large array is serialized on every core.
//!
//! A large estate's JSON report is millions of findings inside a small document. The small
//! document is serialized as usual with that array empty; the array's items are serialized in
//! chunks by worker threads and written, in order, in its place. The bytes are those of
//! `serde_json` on the whole document, in either [`Layout`]: pretty, where an item's text only
//! gains the indentation of its depth (JSON strings cannot hold a raw newline, so every newline in
//! an item's text is a line break of its layout), or compact.

use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Items per chunk: large enough that handing chunks around costs nothing, small enough that
/// the chunks in flight are a few megabytes.
const CHUNK: usize = 512;

/// How the document is laid out: as `serde_json::to_writer_pretty` or `serde_json::to_writer`
/// write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Two spaces per level, a member per line: the JSON report, read by people.
    Pretty,
    /// No whitespace: SARIF, read by code scanning and viewers, where the layout was a third of
    /// the bytes of a large estate's report.
    Compact,
}

/// Writes `doc`, in which the member `"key": []` at `depth` (1 for a member of the top-level
/// object) holds no items, with `items` in that array, each written by `item` in `layout`. In the
/// compact layout, where depth cannot be seen, the empty member must be the document's only one.
pub fn write<D, T, F>(
    w: &mut dyn Write,
    layout: Layout,
    doc: &D,
    (key, depth): (&str, usize),
    items: &[T],
    item: F,
) -> io::Result<()>
where
    D: Serialize,
    T: Sync,
    F: Fn(&T, &mut Vec<u8>) -> serde_json::Result<()> + Sync,
{
    let key = serde_json::to_string(key)?;
    let (text, empty, indent) = match layout {
        Layout::Pretty => {
            let member_indent = "  ".repeat(depth);
            let empty = format!("\n{member_indent}{key}: []");
            (serde_json::to_vec_pretty(doc)?, empty, member_indent)
        }
        Layout::Compact => (serde_json::to_vec(doc)?, format!("{key}:[]"), String::new()),
    };
    let missing = || io::Error::other(format!("no empty {key} array at depth {depth} to fill"));
    let at = find(&text, empty.as_bytes()).ok_or_else(missing)?;
    let open = at + empty.len() - 1; // just after `[`
    if layout == Layout::Compact && find(&text[open..], empty.as_bytes()).is_some() {
        return Err(io::Error::other(format!("more than one empty {key} array")));
    }
    if items.is_empty() {
        return w.write_all(&text);
    }
    w.write_all(&text[..open])?;
    match layout {
        Layout::Pretty => {
            let item_indent = format!("{indent}  ");
            write_items(w, items, Some(&item_indent), &item)?;
            w.write_all(b"\n")?;
            w.write_all(indent.as_bytes())?;
        }
        Layout::Compact => write_items(w, items, None, &item)?,
    }
    w.write_all(&text[open..])
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The items, `,`-separated, each on its own lines at `indent` (pretty) or as written (compact).
fn write_items<T, F>(
    w: &mut dyn Write,
    items: &[T],
    indent: Option<&str>,
    item: &F,
) -> io::Result<()>
where
    T: Sync,
    F: Fn(&T, &mut Vec<u8>) -> serde_json::Result<()> + Sync,
{
    in_order(w, items, &|part: &[T], first: usize| {
        render_chunk(part, first == 0, indent, item).map_err(io::Error::other)
    })
}

/// Writes `items` as `chunk` renders them, a slice at a time (with the index of its first
/// item), rendered by worker threads on every core and written here in order.
pub fn in_order<T, F>(w: &mut dyn Write, items: &[T], chunk: &F) -> io::Result<()>
where
    T: Sync,
    F: Fn(&[T], usize) -> io::Result<Vec<u8>> + Sync,
{
    let chunks = items.len().div_ceil(CHUNK);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(chunks);
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        // Bounded: workers wait rather than run far ahead of the writer.
        let (send, receive) = mpsc::sync_channel::<(usize, io::Result<Vec<u8>>)>(workers * 2);
        for _ in 0..workers {
            let (send, next) = (send.clone(), &next);
            s.spawn(move || loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= chunks {
                    break;
                }
                let first = k * CHUNK;
                let text = chunk(&items[first..(first + CHUNK).min(items.len())], first);
                if send.send((k, text)).is_err() {
                    break; // the writer stopped (a write failed)
                }
            });
        }
        drop(send);
        let mut waiting = BTreeMap::new();
        let mut due = 0;
        for (k, text) in receive {
            waiting.insert(k, text);
            while let Some(text) = waiting.remove(&due) {
                w.write_all(&text?)?;
                due += 1;
            }
        }
        Ok(())
    })
}

/// One chunk's items as they appear in the array. Pretty (with an `indent`): `\n` (or `,\n`
/// after an earlier item), the indentation, and the item's pretty text with its line breaks
/// indented. Compact: the items, `,` before each but the array's first.
fn render_chunk<T, F>(
    part: &[T],
    first_chunk: bool,
    indent: Option<&str>,
    item: &F,
) -> serde_json::Result<Vec<u8>>
where
    F: Fn(&T, &mut Vec<u8>) -> serde_json::Result<()>,
{
    let mut out = Vec::with_capacity(part.len() * 1024);
    let mut one = Vec::with_capacity(4096);
    for (i, t) in part.iter().enumerate() {
        let first = first_chunk && i == 0;
        let Some(indent) = indent else {
            if !first {
                out.push(b',');
            }
            item(t, &mut out)?;
            continue;
        };
        out.extend_from_slice(if first { b"\n" } else { b",\n" });
        out.extend_from_slice(indent.as_bytes());
        one.clear();
        item(t, &mut one)?;
        for (n, line) in one.split(|&b| b == b'\n').enumerate() {
            if n > 0 {
                out.push(b'\n');
                out.extend_from_slice(indent.as_bytes());
            }
            out.extend_from_slice(line);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spliced(
        items: &[serde_json::Value],
        depth_doc: serde_json::Value,
        key: &str,
        depth: usize,
    ) -> String {
        let pretty = written(Layout::Pretty, items, &depth_doc, key, depth).unwrap();
        let compact = written(Layout::Compact, items, &depth_doc, key, depth).unwrap();
        // The compact text is the pretty one's, laid out differently: one check of both.
        let reparsed: serde_json::Value = serde_json::from_str(&pretty).unwrap();
        assert_eq!(compact, serde_json::to_string(&reparsed).unwrap());
        pretty
    }

    fn written(
        layout: Layout,
        items: &[serde_json::Value],
        doc: &serde_json::Value,
        key: &str,
        depth: usize,
    ) -> io::Result<String> {
        let mut out = Vec::new();
        write(
            &mut out,
            layout,
            doc,
            (key, depth),
            items,
            |v, buf| match layout {
                Layout::Pretty => serde_json::to_writer_pretty(buf, v),
                Layout::Compact => serde_json::to_writer(buf, v),
            },
        )?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn same_bytes_as_the_whole_document_pretty_printed() {
        // Items with nested objects, arrays, empty containers and newlines inside strings; more
        // than one chunk, so that worker threads and the reordering are used.
        let items: Vec<_> = (0..(CHUNK * 3 + 7))
            .map(|i| json!({"i": i, "s": "a\nb\"c", "list": [1, {"x": []}], "o": {}}))
            .collect();
        let doc = |items: &[serde_json::Value]| json!({"a": {"b": 1}, "findings": items, "z": [], "after": "x"});
        let got = spliced(&items, doc(&[]), "findings", 1);
        assert_eq!(got, serde_json::to_string_pretty(&doc(&items)).unwrap());
        // Deeper (SARIF's runs[0].results), and no items at all.
        let deep = |items: &[serde_json::Value]| json!({"runs": [{"results": items, "tool": 1}]});
        let got = spliced(&items[..3], deep(&[]), "results", 3);
        assert_eq!(
            got,
            serde_json::to_string_pretty(&deep(&items[..3])).unwrap()
        );
        assert_eq!(
            spliced(&[], doc(&[]), "findings", 1),
            serde_json::to_string_pretty(&doc(&[])).unwrap()
        );
    }

    #[test]
    fn a_compact_document_with_two_empty_members_is_refused() {
        let doc = json!({"a": {"results": []}, "runs": [{"results": []}]});
        let err = written(Layout::Compact, &[json!(1)], &doc, "results", 3).unwrap_err();
        assert!(err.to_string().contains("more than one"), "{err}");
        // Pretty, the depth tells them apart.
        let got = written(Layout::Pretty, &[json!(1)], &doc, "results", 3).unwrap();
        let want = json!({"a": {"results": []}, "runs": [{"results": [1]}]});
        assert_eq!(got, serde_json::to_string_pretty(&want).unwrap());
    }

    #[test]
    fn a_failed_write_is_returned() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let items: Vec<_> = (0..CHUNK * 4).map(|i| json!(i)).collect();
        for layout in [Layout::Pretty, Layout::Compact] {
            let err = write(
                &mut Full,
                layout,
                &json!({"findings": []}),
                ("findings", 1),
                &items,
                |v, b| serde_json::to_writer(b, v),
            )
            .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        }
    }
}
