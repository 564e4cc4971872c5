//! `read_paths`: lists the inputs, detects each file's format from its content, reads the files on
//! all cores (one aggregator per thread, merged at the end) and adds the coverage holes of dated
//! layouts.

use crate::agg::Aggregator;
use crate::aws_text::AwsLayout;
use crate::{aggregated, aws_parquet, aws_text, json_logs, layout};
use crate::{FlowError, FlowProfile, FlowSource};
use std::io::{BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// How to read flow inputs.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Unreadable records kept as examples in [`FlowProfile::skipped`] (all are counted).
    pub max_skipped_examples: usize,
    /// Reader threads; 0 = every core.
    pub threads: usize,
    /// The field list of headerless AWS text records in a custom format (CloudWatch Logs delivery
    /// of a custom format has no header line), e.g. `version interface-id srcaddr …`.
    pub aws_format: Option<String>,
    /// AWS writes a record (NODATA when idle) for every interval of a logged interface: a longer
    /// stretch without any record for an interface is a coverage hole. 20 minutes by default (the
    /// longest aggregation interval is 10 minutes, delivery adds some).
    pub max_gap_secs: i64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_skipped_examples: 20,
            threads: 0,
            aws_format: None,
            max_gap_secs: 1200,
        }
    }
}

/// Reads every flow log under `paths` (files, or folders read recursively in sorted order) into
/// one profile. A file that is not a flow log is an error naming it; an unreadable record inside a
/// flow log is counted in `skipped_count` (and the first ones kept in `skipped`) with file and line.
pub fn read_paths<P: AsRef<Path>>(
    paths: &[P],
    opts: &ReadOptions,
) -> Result<FlowProfile, FlowError> {
    let mut files = Vec::new();
    for p in paths {
        list(p.as_ref(), &mut files)?;
    }
    files.sort();
    files.dedup();
    let custom = opts
        .aws_format
        .as_deref()
        .map(AwsLayout::from_format)
        .transpose()?;
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let shares = Mutex::new(Vec::new());
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut agg = Aggregator::new(opts.max_skipped_examples, opts.max_gap_secs);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    agg.start_file();
                    if let Err(e) = read_file(path, custom.as_ref(), &mut agg) {
                        errors.lock().expect("no panics hold it").push((i, e));
                        next.store(files.len(), Ordering::Relaxed);
                    }
                }
                shares.lock().expect("no panics hold it").push(agg);
            });
        }
    });
    let mut errors = errors.into_inner().expect("threads joined");
    if !errors.is_empty() {
        errors.sort_by_key(|(i, _)| *i);
        return Err(errors.swap_remove(0).1);
    }
    let mut profile = FlowProfile::default();
    let mut shares = shares.into_inner().expect("threads joined");
    if let Some(mut all) = shares.pop() {
        for share in shares {
            all.absorb(share);
        }
        all.finish(&mut profile);
    }
    profile.holes.extend(layout::missing_days(&files));
    profile
        .holes
        .sort_by(|a, b| (&a.interface_id, a.from, a.to).cmp(&(&b.interface_id, b.from, b.to)));
    profile
        .skipped
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    profile.skipped.truncate(opts.max_skipped_examples);
    profile.sources.sort_by_key(|s| source_rank(*s));
    Ok(profile)
}

fn source_rank(s: FlowSource) -> u8 {
    match s {
        FlowSource::AwsVpc => 0,
        FlowSource::AzureVnet => 1,
        FlowSource::AzureNsg => 2,
        FlowSource::GcpVpc => 3,
        FlowSource::GcpFirewall => 4,
        FlowSource::Aggregated => 5,
    }
}

fn list(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), FlowError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => FlowError::NotFound {
            path: path.to_path_buf(),
        },
        _ => FlowError::io(path, e),
    })?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|e| FlowError::io(path, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| FlowError::io(path, e))?;
        let name = entry.file_name();
        // Hidden files (.DS_Store, editor swap files) are not logs.
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        list(&entry.path(), out)?;
    }
    Ok(())
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const PARQUET_MAGIC: &[u8; 4] = b"PAR1";

/// Reads one file of any supported format into `agg`.
pub(crate) fn read_file(
    path: &Path,
    custom: Option<&AwsLayout>,
    agg: &mut Aggregator,
) -> Result<(), FlowError> {
    let mut file = std::fs::File::open(path).map_err(|e| FlowError::io(path, e))?;
    let mut magic = [0u8; 4];
    let got = read_prefix(&mut file, &mut magic).map_err(|e| FlowError::io(path, e))?;
    if &magic[..got] == PARQUET_MAGIC {
        return aws_parquet::read(path, agg);
    }
    let file = std::fs::File::open(path).map_err(|e| FlowError::io(path, e))?;
    if got >= 2 && magic[..2] == GZIP_MAGIC {
        let gz = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, file));
        read_stream(gz, path, custom, agg)
    } else {
        read_stream(file, path, custom, agg)
    }
}

fn read_prefix(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Reads until the first line is complete (or 1 MiB, or the end): a decoder may return less than a
/// line per read.
fn read_head<R: Read>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(1 << 16);
    let mut chunk = [0u8; 1 << 13];
    while !head.contains(&b'\n') && head.len() < 1 << 20 {
        match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(head)
}

fn read_stream<R: Read>(
    mut r: R,
    path: &Path,
    custom: Option<&AwsLayout>,
    agg: &mut Aggregator,
) -> Result<(), FlowError> {
    let head = read_head(&mut r).map_err(|e| FlowError::io(path, e))?;
    let first_line = head.split(|&c| c == b'\n').next().unwrap_or_default();
    let first_line = String::from_utf8_lossy(first_line).trim().to_string();
    let r = Cursor::new(head).chain(r);
    let not_flow_log = |detail: &str| FlowError::NotAFlowLog {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    };
    if first_line.starts_with('{') || first_line.starts_with('[') {
        return json_logs::read(r, path, &first_line, custom, agg);
    }
    if let Some(layout) = AwsLayout::from_header(&first_line) {
        let layout = layout.map_err(|field| FlowError::MissingField {
            path: path.to_path_buf(),
            field,
        })?;
        return aws_text::read(r, path, &layout, true, agg);
    }
    if aggregated::is_csv_header(&first_line) {
        return aggregated::read_csv(r, path, agg);
    }
    let tokens = first_line.split_ascii_whitespace().count();
    if let Some(layout) = custom.filter(|l| l.fields() == tokens) {
        return aws_text::read(r, path, layout, false, agg);
    }
    if tokens == 14 && first_line.starts_with("2 ") {
        return aws_text::read(r, path, &AwsLayout::default_v2(), false, agg);
    }
    if first_line.is_empty() {
        return Err(not_flow_log("empty"));
    }
    let shown: String = first_line.chars().take(80).collect();
    Err(not_flow_log(&format!("first line `{shown}`")))
}

/// Calls `f(line_no, line)` for every non-empty line (1-based numbers, `\r\n` tolerated), reading
/// large blocks and splitting them in place. A stream that breaks off (a truncated or corrupt gzip
/// member) keeps what was read and counts one skipped record at the line where it broke.
pub(crate) fn for_each_line<R: Read>(
    r: R,
    path: &Path,
    agg_skip: &mut dyn FnMut(u64, String),
    f: impl FnMut(u64, &[u8]),
) -> Result<(), FlowError> {
    match lines(r, f) {
        Ok(()) => Ok(()),
        Err((line, e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData
                    | std::io::ErrorKind::InvalidInput
                    | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            agg_skip(line + 1, format!("the stream breaks off here: {e}"));
            Ok(())
        }
        Err((_, e)) => Err(FlowError::io(path, e)),
    }
}

fn lines<R: Read>(mut r: R, mut f: impl FnMut(u64, &[u8])) -> Result<(), (u64, std::io::Error)> {
    let mut buf = vec![0u8; 1 << 20];
    let (mut start, mut end, mut line_no) = (0usize, 0usize, 0u64);
    loop {
        if end == buf.len() {
            if start > 0 {
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            } else {
                buf.resize(buf.len() * 2, 0);
            }
        }
        let n = match r.read(&mut buf[end..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err((line_no, e)),
        };
        if n == 0 {
            if start < end {
                line_no += 1;
                emit(&buf[start..end], line_no, &mut f);
            }
            return Ok(());
        }
        let scan_from = end;
        end += n;
        let mut last = start;
        for nl in memchr::memchr_iter(b'\n', &buf[scan_from..end]) {
            let nl = scan_from + nl;
            line_no += 1;
            emit(&buf[last..nl], line_no, &mut f);
            last = nl + 1;
        }
        start = last;
    }
}

#[inline]
fn emit(line: &[u8], line_no: u64, f: &mut impl FnMut(u64, &[u8])) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.is_empty() {
        f(line_no, line);
    }
}
