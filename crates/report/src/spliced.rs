//! A pretty-printed JSON document whose one large array is serialized on every core.
//!
//! A large estate's JSON report is millions of findings inside a small document. The small
//! document is serialized as usual with that array empty; the array's items are serialized in
//! chunks by worker threads and written, in order, in its place. The bytes are those of
//! `serde_json::to_writer_pretty` on the whole document: an item's pretty text only gains the
//! indentation of its depth (JSON strings cannot hold a raw newline, so every newline in an
//! item's text is a line break of its layout).

use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Items per chunk: large enough that handing chunks around costs nothing, small enough that
/// the chunks in flight are a few megabytes.
const CHUNK: usize = 512;

/// Writes `doc`, in which the member `"key": []` at `depth` (1 for a member of the top-level
/// object) holds no items, with `items` in that array, each written by `item`.
pub fn write<D, T, F>(
    w: &mut dyn Write,
    doc: &D,
    key: &str,
    depth: usize,
    items: &[T],
    item: F,
) -> io::Result<()>
where
    D: Serialize,
    T: Sync,
    F: Fn(&T, &mut Vec<u8>) -> serde_json::Result<()> + Sync,
{
    let text = serde_json::to_vec_pretty(doc).map_err(io::Error::other)?;
    let member_indent = "  ".repeat(depth);
    let empty = format!("\n{member_indent}{}: []", serde_json::to_string(key)?);
    let at = find(&text, empty.as_bytes()).ok_or_else(|| {
        io::Error::other(format!("no empty `{key}` array at depth {depth} to fill"))
    })?;
    let open = at + empty.len() - 1; // just after `[`
    if items.is_empty() {
        return w.write_all(&text);
    }
    w.write_all(&text[..open])?;
    let indent = format!("{member_indent}  ");
    write_items(w, items, &indent, &item)?;
    w.write_all(b"\n")?;
    w.write_all(member_indent.as_bytes())?;
    w.write_all(&text[open..])
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The items, `,`-separated, each on its own lines at `indent`.
fn write_items<T, F>(w: &mut dyn Write, items: &[T], indent: &str, item: &F) -> io::Result<()>
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

/// One chunk's items as they appear in the array: `\n` (or `,\n` after an earlier item), the
/// indentation, and the item's pretty text with its line breaks indented.
fn render_chunk<T, F>(
    part: &[T],
    first_chunk: bool,
    indent: &str,
    item: &F,
) -> serde_json::Result<Vec<u8>>
where
    F: Fn(&T, &mut Vec<u8>) -> serde_json::Result<()>,
{
    let mut out = Vec::with_capacity(part.len() * 1024);
    let mut one = Vec::with_capacity(4096);
    for (i, t) in part.iter().enumerate() {
        out.extend_from_slice(if first_chunk && i == 0 { b"\n" } else { b",\n" });
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
        let mut out = Vec::new();
        write(&mut out, &depth_doc, key, depth, items, |v, buf| {
            serde_json::to_writer_pretty(buf, v)
        })
        .unwrap();
        String::from_utf8(out).unwrap()
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
        let err = write(
            &mut Full,
            &json!({"findings": []}),
            "findings",
            1,
            &items,
            |v, b| serde_json::to_writer_pretty(b, v),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    }
}
