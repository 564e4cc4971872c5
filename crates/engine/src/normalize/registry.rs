//! The one shape every input takes into the engine, and the list of them.
//!
//! The loader knows no provider by name: it offers each document to the normalizers in
//! [`registry`] order, and the first that detects it from its content reads it. Adding an input
//! kind (a Terraform plan, another firewall) is one `Normalizer` implementation and one line here.

use super::{
    aws, azure, gcp, host, probe, DocContext, InputError, Inventory, NormalizeError, Options,
};
use egress_audit_snapshot::Provider;
use serde_json::Value;

/// One kind of input: detected from content, parsed document by document, and turned into
/// targets once every input is in (files combine: groups from one file, interfaces from another).
pub trait Normalizer {
    /// The provider whose scopes a truncated listing of this input leaves unread, so that the
    /// scan is reported partial; `None` for inputs without pages.
    fn provider(&self) -> Option<Provider>;
    /// Whether a JSON document is one of this normalizer's inputs, from its content alone.
    fn detects(&self, doc: &Value) -> bool;
    /// Reads one document that [`Normalizer::detects`] accepted.
    fn add(&mut self, doc: Value, ctx: &DocContext) -> Result<(), InputError>;
    /// Whether a large listing of this input ([`super::chunked`], judged from its first slice)
    /// may be read a slice at a time: only when its items are read independently of each other.
    fn sliceable(&self, _first: &Value) -> bool {
        false
    }
    /// Reads one slice of a large listing; `first` is the position of its first item in the file.
    fn add_slice(&mut self, doc: Value, _first: usize, ctx: &DocContext) -> Result<(), InputError> {
        self.add(doc, ctx)
    }
    /// Whether a file that is not JSON is one of this normalizer's inputs (`iptables-save`).
    fn detects_text(&self, _text: &str) -> bool {
        false
    }
    /// Reads one text input that [`Normalizer::detects_text`] accepted.
    fn add_text(&mut self, _text: &str, ctx: &DocContext) -> Result<(), InputError> {
        Err(InputError::new(&ctx.source, "not a text input"))
    }
    /// Turns everything read into targets, warnings and unread scopes.
    fn build(self: Box<Self>, opts: &Options, inv: &mut Inventory);
}

/// Every input kind, in the order documents are offered to them (and built).
pub fn registry() -> Vec<Box<dyn Normalizer>> {
    vec![
        Box::<aws::AwsBundle>::default(),
        Box::<azure::AzureBundle>::default(),
        Box::<gcp::GcpBundle>::default(),
        Box::<host::HostBundle>::default(),
        Box::<probe::ProbeBundle>::default(),
    ]
}

fn named<E: Into<NormalizeError>>(ctx: &DocContext) -> impl Fn(E) -> InputError + '_ {
    move |e| InputError::new(&ctx.source, e)
}

impl Normalizer for aws::AwsBundle {
    fn provider(&self) -> Option<Provider> {
        Some(Provider::Aws)
    }
    fn detects(&self, doc: &Value) -> bool {
        Self::detect(doc).is_some()
    }
    fn add(&mut self, doc: Value, ctx: &DocContext) -> Result<(), InputError> {
        let kind = Self::detect(&doc).ok_or_else(|| named(ctx)("not an AWS listing"))?;
        self.add_kind(kind, doc, ctx).map_err(named(ctx))
    }
    fn sliceable(&self, first: &Value) -> bool {
        Self::detect(first).is_some_and(|k| aws::SLICEABLE.contains(&k))
    }
    fn add_slice(&mut self, doc: Value, first: usize, ctx: &DocContext) -> Result<(), InputError> {
        aws::AwsBundle::add_slice(self, doc, first, ctx).map_err(named(ctx))
    }
    fn build(self: Box<Self>, opts: &Options, inv: &mut Inventory) {
        aws::AwsBundle::build(*self, opts, inv)
    }
}

impl Normalizer for azure::AzureBundle {
    fn provider(&self) -> Option<Provider> {
        Some(Provider::Azure)
    }
    fn detects(&self, doc: &Value) -> bool {
        Self::detect(doc).is_some()
    }
    fn add(&mut self, doc: Value, ctx: &DocContext) -> Result<(), InputError> {
        let kind = Self::detect(&doc).ok_or_else(|| named(ctx)("not an Azure listing"))?;
        self.add_kind(kind, doc, ctx).map_err(named(ctx))
    }
    fn build(self: Box<Self>, opts: &Options, inv: &mut Inventory) {
        azure::AzureBundle::build(*self, opts, inv)
    }
}

impl Normalizer for gcp::GcpBundle {
    fn provider(&self) -> Option<Provider> {
        Some(Provider::Gcp)
    }
    fn detects(&self, doc: &Value) -> bool {
        Self::detect(doc).is_some()
    }
    fn add(&mut self, doc: Value, ctx: &DocContext) -> Result<(), InputError> {
        let kind = Self::detect(&doc).ok_or_else(|| named(ctx)("not a GCP listing"))?;
        self.add_kind(kind, doc, ctx).map_err(named(ctx))
    }
    fn build(self: Box<Self>, opts: &Options, inv: &mut Inventory) {
        gcp::GcpBundle::build(*self, opts, inv)
    }
}

impl Normalizer for host::HostBundle {
    fn provider(&self) -> Option<Provider> {
        None
    }
    fn detects(&self, doc: &Value) -> bool {
        host::nft::detect(doc)
    }
    fn add(&mut self, doc: Value, ctx: &DocContext) -> Result<(), InputError> {
        let export = host::nft::parse(&doc, &ctx.source).map_err(named(ctx))?;
        self.add_export(export);
        Ok(())
    }
    fn detects_text(&self, text: &str) -> bool {
        host::iptables::detect(text)
    }
    fn add_text(&mut self, text: &str, ctx: &DocContext) -> Result<(), InputError> {
        let export = host::iptables::parse(text, &ctx.source).map_err(named(ctx))?;
        self.add_export(export);
        Ok(())
    }
    fn build(self: Box<Self>, _opts: &Options, inv: &mut Inventory) {
        host::HostBundle::build(*self, inv)
    }
}

impl Normalizer for probe::ProbeBundle {
    fn provider(&self) -> Option<Provider> {
        None
    }
    fn detects(&self, doc: &Value) -> bool {
        Self::detect(doc)
    }
    fn add(&mut self, doc: Value, ctx: &DocContext) -> Result<(), InputError> {
        self.add_probe(doc, ctx).map_err(named(ctx))
    }
    fn build(self: Box<Self>, opts: &Options, inv: &mut Inventory) {
        probe::ProbeBundle::build(*self, opts, inv)
    }
}
