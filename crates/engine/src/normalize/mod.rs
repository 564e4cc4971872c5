//! Turns inputs (CLI exports, REST listings, snapshots, probe results) into [`Inventory`] targets.
//!
//! Every file's kind is detected from its content, never from its name; a large cloud listing is
//! read a slice of items at a time ([`chunked`]). Each
//! provider module keeps a *bundle* of everything it was given (security groups from one file,
//! ENIs from another) and builds targets only once all inputs are in, so files combine into one view.

pub mod aws;
pub mod azure;
pub mod chunked;
pub mod fields;
pub mod foreign;
pub mod gcp;
pub mod host;
pub mod observed;
pub mod probe;
pub mod reach;
pub mod registry;
mod sniff;

use crate::model::WarningKind;
use crate::model::{Target, Warning};
use egress_audit_snapshot::{NotScanned, Provider, Snapshot};
pub use registry::{registry, Normalizer};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where a document came from, for error messages and for findings' account and region.
#[derive(Clone, Debug, Default)]
pub struct DocContext {
    /// The file path (and for snapshots, `path#documents[3]`).
    pub source: String,
    pub account: Option<String>,
    pub region: Option<String>,
}

/// Options that change how symbolic destinations resolve.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Azure service tags (`--service-tags FILE`): tag name (`Storage`, `Storage.WestEurope`) → prefixes.
    pub azure_service_tags: Option<azure::ServiceTags>,
}

/// Everything the engine evaluates, plus what the inputs could not tell.
#[derive(Debug, Default)]
pub struct Inventory {
    pub targets: Vec<Target>,
    pub warnings: Vec<Warning>,
    pub not_scanned: Vec<NotScanned>,
    /// Probe results as measured, for reconciling them with declared targets (CHECKS.md §6).
    pub probes: Vec<observed::ProbeRecord>,
}

/// A bad input: exit status 2, with the file and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {problem}")]
pub struct InputError {
    pub source_name: String,
    pub problem: NormalizeError,
}

impl InputError {
    pub fn new(source: impl Into<String>, problem: impl Into<NormalizeError>) -> Self {
        InputError {
            source_name: source.into(),
            problem: problem.into(),
        }
    }
}

/// What is wrong inside one input file.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    /// One field of one resource ([`fields`]); boxed to keep every `Result` small.
    #[error(transparent)]
    Field(Box<fields::FieldError>),
    /// Anything else (unreadable file, not JSON, a damaged listing, cross-field conflicts); the
    /// message names the resource and the fields itself. Readers move to `Field` as they are
    /// converted.
    #[error("{0}")]
    Input(String),
}

impl From<fields::FieldError> for NormalizeError {
    fn from(e: fields::FieldError) -> Self {
        NormalizeError::Field(Box::new(e))
    }
}

impl From<String> for NormalizeError {
    fn from(m: String) -> Self {
        NormalizeError::Input(m)
    }
}

impl From<&str> for NormalizeError {
    fn from(m: &str) -> Self {
        NormalizeError::Input(m.to_string())
    }
}

/// Every bad input of a run, sorted by file: exit status 2, one line each.
#[derive(Debug)]
pub struct InputErrors(pub Vec<InputError>);

impl InputErrors {
    /// `Ok` when nothing failed.
    pub fn into_result(mut list: Vec<InputError>) -> Result<(), InputErrors> {
        if list.is_empty() {
            return Ok(());
        }
        // Stable: one file's errors stay in the order they were found.
        list.sort_by(|a, b| a.source_name.cmp(&b.source_name));
        Err(InputErrors(list))
    }
}

impl std::fmt::Display for InputErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputErrors {}

pub const EXPECTED: &str = "expected the JSON of `aws ec2 describe-security-groups | describe-network-acls | \
describe-network-interfaces | describe-instances | describe-subnets | describe-vpcs | describe-route-tables | \
describe-managed-prefix-lists | get-managed-prefix-list-entries | describe-security-group-rules`, `az network nsg list | nic list | \
vnet list | vnet subnet list | route-table list | firewall list | nsg rule list`, `az vm list | vmss list`, `az graph query` \
(or one object of the matching `show`, or the ARM REST `{\"value\": [...]}` shape), `gcloud compute firewall-rules list | instances list | networks list | \
routes list | network-firewall-policies list | firewall-policies describe` with --format=json (or the \
REST `{\"items\": ...}` shape), `nft -j list ruleset`, `iptables-save` / `ip6tables-save` text, an \
egress-audit snapshot, or an egress-audit probe result";

/// Collects documents from every input, then builds the targets.
pub struct Loader {
    /// Every input kind ([`registry::registry`]), offered each document in turn.
    normalizers: Vec<Box<dyn Normalizer>>,
    pub not_scanned: Vec<NotScanned>,
    pub warnings: Vec<Warning>,
    /// JSON files opened (the report's `scope.files`).
    pub files_read: usize,
    /// Reading the files of a folder: recognisably foreign JSON is skipped, not an error.
    in_folder: bool,
    /// A listing with more items than this is read in slices of this many ([`chunked`]).
    pub slice_items: usize,
}

impl Default for Loader {
    fn default() -> Self {
        Loader {
            normalizers: registry(),
            not_scanned: Vec::new(),
            warnings: Vec::new(),
            files_read: 0,
            in_folder: false,
            slice_items: chunked::DEFAULT_SLICE,
        }
    }
}

impl Loader {
    /// Adds every input, going on past bad ones: every input error of the run is returned (sorted
    /// by file), so a user with three broken exports among forty sees all three at once. Nothing
    /// read may be built into a report when this fails.
    pub fn add_paths<P: AsRef<Path>>(&mut self, paths: &[P]) -> Result<(), InputErrors> {
        let mut errors = Vec::new();
        for p in paths {
            self.add_path_collecting(p.as_ref(), &mut errors);
        }
        InputErrors::into_result(errors)
    }

    /// Adds a file, or every `.json` file below a folder (sorted, so results are stable). Every
    /// file of a folder is read; the first error (by file) is returned.
    pub fn add_path(&mut self, path: &Path) -> Result<(), InputError> {
        let mut errors = Vec::new();
        self.add_path_collecting(path, &mut errors);
        match InputErrors::into_result(errors) {
            Ok(()) => Ok(()),
            Err(InputErrors(list)) => Err(list.into_iter().next().expect("not empty")),
        }
    }

    fn add_path_collecting(&mut self, path: &Path, errors: &mut Vec<InputError>) {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                let name = path.display().to_string();
                return errors.push(InputError::new(name, format!("cannot read: {e}")));
            }
        };
        if !meta.is_dir() {
            return errors.extend(self.add_file(path).err());
        }
        let mut files = Vec::new();
        if let Err(e) = walk(path, &mut files, &mut self.warnings) {
            return errors.push(e);
        }
        if files.is_empty() {
            return errors.push(InputError::new(
                path.display().to_string(),
                "the folder holds no .json files to scan",
            ));
        }
        self.in_folder = true;
        for f in &files {
            errors.extend(self.add_file(f).err());
        }
        self.in_folder = false;
    }

    pub fn add_file(&mut self, path: &Path) -> Result<(), InputError> {
        let name = path.display().to_string();
        let normalizers = &self.normalizers;
        sniff::check(path, &name, |head| {
            normalizers.iter().any(|n| n.detects_text(head))
        })?;
        self.files_read += 1;
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(&name, format!("cannot read: {e}")))?;
        if let Some(added) = self.add_sliced(&text, &name) {
            return added;
        }
        // Parsed once; a file that is not JSON may still be a text input (`iptables-save`) that a
        // normalizer recognises by content.
        let parsed = serde_json::from_str::<Value>(&text);
        if parsed.is_err() {
            if let Some(n) = self.normalizers.iter_mut().find(|n| n.detects_text(&text)) {
                let ctx = DocContext {
                    source: name.clone(),
                    ..Default::default()
                };
                return n.add_text(&text, &ctx);
            }
        }
        let value: Value = parsed.map_err(|e| {
            // `aws … > f; aws … >> f`: two documents in one file.
            let hint = if e.to_string().starts_with("trailing characters")
                && serde_json::Deserializer::from_str(&text)
                    .into_iter::<Value>()
                    .take(2)
                    .filter(Result::is_ok)
                    .count()
                    == 2
            {
                " (it holds several JSON documents one after another: save each export to its own file)"
            } else {
                ""
            };
            InputError::new(&name, format!("not valid JSON: {e}{hint}"))
        })?;
        // The text is as large as the file: not kept while the document is read.
        drop(text);
        let ctx = DocContext {
            source: name,
            ..Default::default()
        };
        self.add_value(value, &ctx)
    }

    /// Reads a large listing a slice at a time, when its normalizer allows it; `None` when the
    /// file is to be read whole (not a listing, not that large, or not sliceable).
    fn add_sliced(&mut self, text: &str, name: &str) -> Option<Result<(), InputError>> {
        let listing = chunked::Listing::split(text, self.slice_items)?;
        let mut slices = listing.slices(self.slice_items).peekable();
        let (_, first) = slices.peek()?;
        if is_snapshot(first) {
            return None;
        }
        // The normalizer that would read the whole file, in registry order.
        let n = self.normalizers.iter().position(|n| n.detects(first))?;
        if !self.normalizers[n].sliceable(first) {
            return None;
        }
        let ctx = DocContext {
            source: name.to_string(),
            ..Default::default()
        };
        let normalizer = &mut self.normalizers[n];
        // The next slices are parsed on another thread while this one reads the last: parsing
        // was half of the time of reading a large estate. Their order is kept, and only a few
        // slices are ever parsed ahead.
        std::thread::scope(|s| {
            let (send, parsed) = std::sync::mpsc::sync_channel(2);
            s.spawn(move || {
                for slice in slices {
                    if send.send(slice).is_err() {
                        break; // the reader stopped at an error
                    }
                }
            });
            for (at, doc) in parsed {
                if let Err(e) = normalizer.add_slice(doc, at, &ctx) {
                    return Some(Err(e));
                }
            }
            Some(Ok(()))
        })
    }

    /// Adds one parsed document; its kind is detected from its content.
    pub fn add_value(&mut self, value: Value, ctx: &DocContext) -> Result<(), InputError> {
        if is_snapshot(&value) {
            return self.add_snapshot(value, ctx);
        }
        if let Some(n) = self.normalizers.iter_mut().find(|n| n.detects(&value)) {
            return n.add(value, ctx);
        }
        if let Some(what) = permission_document(&value) {
            // Permission files (least-privilege policies) often sit beside the exports they allow.
            self.warnings.push(Warning {
                kind: WarningKind::SkippedFile,
                source: ctx.source.clone(),
                message: format!("{what}, not an export; not read"),
            });
            return Ok(());
        }
        if is_empty_listing(&value) {
            // `[]` or `{"value": []}`: a valid export of nothing; say so rather than guess a kind.
            self.warnings.push(Warning {
                kind: WarningKind::EmptyInput,
                source: ctx.source.clone(),
                message:
                    "the listing is empty, so its kind cannot be told; nothing was read from it"
                        .into(),
            });
            return Ok(());
        }
        if let Some(f) = foreign::classify(&value) {
            if self.in_folder {
                self.warnings.push(Warning {
                    kind: crate::model::WarningKind::SkippedFile,
                    source: ctx.source.clone(),
                    message: format!("{}; not read: {}", f.what, f.hint),
                });
                return Ok(());
            }
            return Err(InputError::new(
                &ctx.source,
                format!("{}: {}", f.what, f.hint),
            ));
        }
        let in_folder = if self.in_folder {
            " (in a folder, JSON that is recognisably not an input, such as package.json, \
             reports or Terraform files, is skipped; this file is neither: move it out or fix it)"
        } else {
            ""
        };
        Err(InputError::new(
            &ctx.source,
            format!("not a recognised export{in_folder}: {EXPECTED}"),
        ))
    }

    fn add_snapshot(&mut self, value: Value, ctx: &DocContext) -> Result<(), InputError> {
        let snap: Snapshot = serde_json::from_value(value).map_err(|e| {
            InputError::new(
                &ctx.source,
                format!("not a valid egress-audit snapshot: {e}"),
            )
        })?;
        self.not_scanned.extend(snap.not_scanned);
        // Scopes a collector skipped on purpose (a disabled subscription) are named, never silent.
        self.warnings.extend(snap.skipped.iter().map(|n| Warning {
            kind: WarningKind::SkippedScope,
            source: ctx.source.clone(),
            message: format!(
                "{} {}{} was not read: {}",
                n.provider,
                n.account.as_deref().map(|a| format!("{a} ")).unwrap_or_default(),
                n.scope,
                n.reason
            ),
        }));
        // A snapshot's documents are inputs by construction: none of them is skipped as foreign.
        let in_folder = std::mem::take(&mut self.in_folder);
        let added = self.add_snapshot_documents(snap.documents, ctx);
        self.in_folder = in_folder;
        added
    }

    fn add_snapshot_documents(
        &mut self,
        documents: Vec<egress_audit_snapshot::Document>,
        ctx: &DocContext,
    ) -> Result<(), InputError> {
        for (i, doc) in documents.into_iter().enumerate() {
            let dctx = DocContext {
                source: format!(
                    "{}#documents[{i}] ({} {})",
                    ctx.source, doc.provider, doc.kind
                ),
                account: doc.account,
                region: doc.region,
            };
            self.add_value(doc.data, &dctx)?;
        }
        Ok(())
    }

    pub fn build(self, opts: &Options) -> Inventory {
        let mut inv = Inventory {
            targets: Vec::new(),
            warnings: self.warnings,
            not_scanned: self.not_scanned,
            probes: Vec::new(),
        };
        for n in self.normalizers {
            let before = inv.warnings.len();
            let provider = n.provider();
            n.build(opts, &mut inv);
            if let Some(p) = provider {
                not_read_pages(&mut inv, before, p);
            }
        }
        inv.warnings.sort();
        inv.warnings.dedup();
        inv
    }
}

/// The other pages of a truncated listing were not read: that makes the scan partial, like a
/// region or subscription a live scan could not read, so nothing on them passes for clean.
fn not_read_pages(inv: &mut Inventory, from: usize, provider: Provider) {
    let pages: Vec<NotScanned> = inv.warnings[from..]
        .iter()
        .filter(|w| w.kind == WarningKind::TruncatedListing)
        .map(|w| NotScanned {
            provider,
            account: None,
            region: None,
            scope: format!("later pages of {}", w.source),
            reason: w.message.clone(),
        })
        .collect();
    inv.not_scanned.extend(pages);
}

/// An AWS IAM policy document or an Azure role definition.
fn permission_document(v: &Value) -> Option<&'static str> {
    let has = |k: &str| v.get(k).is_some();
    if has("Version") && v.get("Statement").is_some_and(Value::is_array) {
        return Some("an AWS IAM policy document");
    }
    let role = (has("AssignableScopes") || has("assignableScopes"))
        && (has("Actions") || has("actions") || has("permissions"));
    let role_rest = v
        .get("properties")
        .is_some_and(|p| p.get("assignableScopes").is_some() && p.get("permissions").is_some());
    (role || role_rest).then_some("an Azure role definition")
}

fn is_empty_listing(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(o) if o.len() == 1 => o
            .values()
            .next()
            .is_some_and(|x| x.as_array().is_some_and(|a| a.is_empty())),
        _ => false,
    }
}

/// A folder of this name inside an input folder holds flow logs (`scan --flows DIR/flows`); the
/// exports walk leaves it out.
pub const FLOWS_FOLDER: &str = "flows";

fn walk(dir: &Path, out: &mut Vec<PathBuf>, warnings: &mut Vec<Warning>) -> Result<(), InputError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| {
            InputError::new(
                dir.display().to_string(),
                format!("cannot list folder: {e}"),
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() && p.file_name().is_some_and(|n| n == FLOWS_FOLDER) {
            // Flow logs beside the exports are read by `--flows`, not `--input`.
            continue;
        }
        if p.is_dir() {
            walk(&p, out, warnings)?;
        } else if p.extension().and_then(|e| e.to_str()) == Some("json") || is_firewall_text(&p) {
            out.push(p);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["md", "toml", "yml", "yaml"].contains(&e))
        {
            // Documentation, configs and CI files beside exports are expected; not worth a warning.
        } else {
            warnings.push(Warning {
                kind: WarningKind::SkippedFile,
                source: p.display().to_string(),
                message: "not a .json file; not read".into(),
            });
        }
    }
    Ok(())
}

/// A non-JSON file in a folder that is `iptables-save` output (read by its first 64 KiB).
/// An egress-audit snapshot, by its format marker.
fn is_snapshot(doc: &Value) -> bool {
    doc.get("format").and_then(Value::as_str) == Some(egress_audit_snapshot::FORMAT)
}

fn is_firewall_text(p: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::new();
    let read = std::fs::File::open(p).and_then(|f| f.take(64 * 1024).read_to_end(&mut head));
    read.is_ok() && host::iptables::detect(&String::from_utf8_lossy(&head))
}
