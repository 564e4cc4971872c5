//! Turns inputs (CLI exports, REST listings, snapshots, probe results) into [`Inventory`] targets.
//!
//! Every file is read whole and its kind is detected from its content, never from its name. Each
//! provider module keeps a *bundle* of everything it was given (security groups from one file,
//! ENIs from another) and builds targets only once all inputs are in, so files combine into one view.

pub mod aws;
pub mod azure;
pub mod gcp;
pub mod probe;
mod sniff;

use crate::model::{Target, Warning};
use egress_audit_snapshot::{NotScanned, Provider, Snapshot};
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
}

/// A bad input: exit status 2, with the file and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct InputError {
    pub source_name: String,
    pub message: String,
}

impl InputError {
    pub fn new(source: impl Into<String>, message: impl Into<String>) -> Self {
        InputError {
            source_name: source.into(),
            message: message.into(),
        }
    }
}

pub const EXPECTED: &str = "expected the JSON of `aws ec2 describe-security-groups | describe-network-acls | \
describe-network-interfaces | describe-instances | describe-subnets | describe-vpcs | describe-route-tables | \
describe-managed-prefix-lists | get-managed-prefix-list-entries | describe-security-group-rules`, `az network nsg list | nic list | \
vnet list | vnet subnet list | route-table list | firewall list | nsg rule list`, `az vm list | vmss list`, `az graph query` \
(or one object of the matching `show`, or the ARM REST `{\"value\": [...]}` shape), `gcloud compute firewall-rules list | instances list | networks list | \
routes list | network-firewall-policies list | firewall-policies describe` with --format=json (or the \
REST `{\"items\": ...}` shape), an egress-audit snapshot, or an egress-audit probe result";

/// Collects documents from every input, then builds the targets.
#[derive(Default)]
pub struct Loader {
    pub aws: aws::AwsBundle,
    pub azure: azure::AzureBundle,
    pub gcp: gcp::GcpBundle,
    pub probes: probe::ProbeBundle,
    pub not_scanned: Vec<NotScanned>,
    pub warnings: Vec<Warning>,
}

impl Loader {
    /// Adds a file, or every `.json` file below a folder (sorted, so results are stable).
    pub fn add_path(&mut self, path: &Path) -> Result<(), InputError> {
        let meta = std::fs::metadata(path).map_err(|e| {
            InputError::new(path.display().to_string(), format!("cannot read: {e}"))
        })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files, &mut self.warnings)?;
            if files.is_empty() {
                return Err(InputError::new(
                    path.display().to_string(),
                    "the folder holds no .json files to scan",
                ));
            }
            for f in files {
                self.add_file(&f)?;
            }
            Ok(())
        } else {
            self.add_file(path)
        }
    }

    pub fn add_file(&mut self, path: &Path) -> Result<(), InputError> {
        let name = path.display().to_string();
        sniff::check(path, &name)?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(&name, format!("cannot read: {e}")))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| {
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

    /// Adds one parsed document; its kind is detected from its content.
    pub fn add_value(&mut self, value: Value, ctx: &DocContext) -> Result<(), InputError> {
        if value.get("format").and_then(Value::as_str) == Some(egress_audit_snapshot::FORMAT) {
            return self.add_snapshot(value, ctx);
        }
        if let Some(kind) = aws::AwsBundle::detect(&value) {
            return self
                .aws
                .add(kind, value, ctx)
                .map_err(|m| InputError::new(&ctx.source, m));
        }
        if let Some(kind) = azure::AzureBundle::detect(&value) {
            return self
                .azure
                .add(kind, value, ctx)
                .map_err(|m| InputError::new(&ctx.source, m));
        }
        if let Some(kind) = gcp::GcpBundle::detect(&value) {
            return self
                .gcp
                .add(kind, value, ctx)
                .map_err(|m| InputError::new(&ctx.source, m));
        }
        if probe::ProbeBundle::detect(&value) {
            return self
                .probes
                .add(value, ctx)
                .map_err(|m| InputError::new(&ctx.source, m));
        }
        if let Some(what) = permission_document(&value) {
            // Permission files (least-privilege policies) often sit beside the exports they allow.
            self.warnings.push(Warning {
                kind: "skipped-file".into(),
                source: ctx.source.clone(),
                message: format!("{what}, not an export; not read"),
            });
            return Ok(());
        }
        if is_empty_listing(&value) {
            // `[]` or `{"value": []}`: a valid export of nothing; say so rather than guess a kind.
            self.warnings.push(Warning {
                kind: "empty-input".into(),
                source: ctx.source.clone(),
                message:
                    "the listing is empty, so its kind cannot be told; nothing was read from it"
                        .into(),
            });
            return Ok(());
        }
        Err(InputError::new(
            &ctx.source,
            format!("not a recognised export: {EXPECTED}"),
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
        self.warnings.extend(snap.skipped.iter().map(|n| Warning {
            kind: "skipped-scope".into(),
            source: ctx.source.clone(),
            message: crate::report::not_scanned_line(n),
        }));
        for (i, doc) in snap.documents.into_iter().enumerate() {
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
        };
        let before = inv.warnings.len();
        self.aws.build(opts, &mut inv);
        not_read_pages(&mut inv, before, Provider::Aws);
        let before = inv.warnings.len();
        self.azure.build(opts, &mut inv);
        not_read_pages(&mut inv, before, Provider::Azure);
        let before = inv.warnings.len();
        self.gcp.build(opts, &mut inv);
        not_read_pages(&mut inv, before, Provider::Gcp);
        self.probes.build(opts, &mut inv);
        inv.warnings.sort();
        inv.warnings.dedup();
        inv
    }
}

/// The warning kind of a saved listing that is one page of several (a `NextToken`, `nextLink`,
/// `skip_token` or `nextPageToken` in the file).
pub const TRUNCATED_LISTING: &str = "truncated-listing";

/// The other pages of a truncated listing were not read: that makes the scan partial, like a
/// region or subscription a live scan could not read, so nothing on them passes for clean.
fn not_read_pages(inv: &mut Inventory, from: usize, provider: Provider) {
    let pages: Vec<NotScanned> = inv.warnings[from..]
        .iter()
        .filter(|w| w.kind == TRUNCATED_LISTING)
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
        if p.is_dir() {
            walk(&p, out, warnings)?;
        } else if p.extension().and_then(|e| e.to_str()) == Some("json") {
            out.push(p);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["md", "toml", "yml", "yaml"].contains(&e))
        {
            // Documentation, configs and CI files beside exports are expected; not worth a warning.
        } else {
            warnings.push(Warning {
                kind: "skipped-file".into(),
                source: p.display().to_string(),
                message: "not a .json file; not read".into(),
            });
        }
    }
    Ok(())
}

/// Reads a required string field, with an error that names the object and the field.
pub fn req_str<'a>(obj: &'a Value, field: &str, what: &str) -> Result<&'a str, String> {
    obj.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{what} has no string field `{field}`"))
}
