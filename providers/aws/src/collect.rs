//! Accounts × regions: who we are, which accounts and regions to read, and reading them with a
//! bound on concurrency. A scope that fails becomes a `NotScanned` entry; the rest goes on.

use crate::auth;
use crate::error::reason;
use crate::fetch;
use crate::progress::Progress;
use crate::stats::Counters;
use crate::CollectOptions;
use anyhow::Context;
use aws_config::SdkConfig;
use egress_audit_snapshot::{NotScanned, Provider, Snapshot};
use futures::stream::{self, StreamExt};
use std::time::Instant;

/// One account we can act in, with its configuration and the regions to read there.
struct Account {
    id: String,
    config: SdkConfig,
    regions: Vec<String>,
}

/// Collects a snapshot of every requested account and region.
///
/// Fails only when nothing can be read at all (no credentials for the caller, or the organization
/// cannot be listed); any narrower failure is recorded in `not_scanned`.
pub async fn collect(opts: &CollectOptions) -> anyhow::Result<Snapshot> {
    let started = Instant::now();
    let counters = Counters::default();
    let progress = Progress::new(opts.progress, counters.clone());
    let concurrency = opts.concurrency.max(1);
    let mut not_scanned = Vec::new();

    let mut base = auth::base_config(
        opts.profile.as_deref(),
        opts.regions.first().map(String::as_str),
        opts.max_attempts,
    )
    .await;
    if let Some(role) = &opts.role_arn {
        base = auth::assume(&base, role, opts.external_id.as_deref()).await;
    }
    let caller = auth::account_id(&base, &counters).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot read the AWS caller identity (sts:GetCallerIdentity){}: {e}; check the credentials \
             (--profile, AWS_PROFILE, AWS_ACCESS_KEY_ID, SSO login) and AWS_ENDPOINT_URL",
            opts.role_arn.as_deref().map(|r| format!(" as {r}")).unwrap_or_default()
        )
    })?;

    let accounts = if opts.org {
        let ids = org_accounts(&base, &counters)
            .await
            .context("listing the organization's accounts (organizations:ListAccounts); run --org with credentials of the management account or a delegated administrator")?;
        progress.add_work(ids.len() as u64);
        let resolved: Vec<Result<Account, NotScanned>> = stream::iter(ids)
            .map(|id| {
                let (base, caller, counters, progress) = (&base, &caller, &counters, &progress);
                async move {
                    let r = member_account(opts, base, caller, &id, counters).await;
                    progress.done_one();
                    r.map_err(|reason| NotScanned {
                        provider: Provider::Aws,
                        account: Some(id.clone()),
                        region: None,
                        scope: "account".into(),
                        reason,
                    })
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut ok = Vec::new();
        for r in resolved {
            match r {
                Ok(a) => ok.push(a),
                Err(gap) => not_scanned.push(gap),
            }
        }
        ok
    } else {
        let regions = regions_for(opts, &base, &counters)
            .await
            .map_err(|e| anyhow::anyhow!("listing the enabled regions of account {caller} (ec2:DescribeRegions): {e}; name the regions with --region"))?;
        vec![Account {
            id: caller.clone(),
            config: base.clone(),
            regions,
        }]
    };

    progress.set_stage("regions");
    let work: Vec<(&Account, &String)> = accounts
        .iter()
        .flat_map(|a| a.regions.iter().map(move |r| (a, r)))
        .collect();
    progress.add_work(work.len() as u64);
    let results: Vec<fetch::RegionResult> = stream::iter(work)
        .map(|(account, region)| {
            let (counters, progress) = (&counters, &progress);
            async move {
                let client = auth::ec2_client(&account.config, region, counters);
                let r = fetch::region(&client, &account.id, region, concurrency).await;
                progress.done_one();
                r
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    progress.finish();

    let mut snapshot = Snapshot::new(&opts.tool_version, now_rfc3339());
    for r in results {
        snapshot.documents.extend(r.documents);
        not_scanned.extend(r.not_scanned);
    }
    // Stable output whatever order the regions finished in.
    snapshot
        .documents
        .sort_by(|a, b| (&a.account, &a.region, &a.kind).cmp(&(&b.account, &b.region, &b.kind)));
    not_scanned.sort();
    snapshot.not_scanned = not_scanned;
    snapshot.stats = Some(counters.snapshot(started.elapsed().as_millis() as u64));
    Ok(snapshot)
}

/// The regions to read in one account: the ones asked for, or every enabled one.
async fn regions_for(
    opts: &CollectOptions,
    config: &SdkConfig,
    counters: &Counters,
) -> Result<Vec<String>, String> {
    if !opts.regions.is_empty() {
        return Ok(opts.regions.clone());
    }
    let home = config
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let out = auth::ec2_client(config, &home, counters)
        .describe_regions()
        .all_regions(false)
        .send()
        .await
        .map_err(|e| reason(&e))?;
    let mut regions: Vec<String> = out
        .regions
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| r.region_name)
        .collect();
    regions.sort();
    Ok(regions)
}

/// Every ACTIVE account of the organization.
async fn org_accounts(config: &SdkConfig, counters: &Counters) -> anyhow::Result<Vec<String>> {
    let client = auth::organizations_client(config, counters);
    let mut pages = client.list_accounts().into_paginator().send();
    let mut ids = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow::anyhow!(reason(&e)))?;
        for account in page.accounts.unwrap_or_default() {
            let active = match (&account.state, &account.status) {
                (Some(state), _) => state.as_str() == "ACTIVE",
                (None, Some(status)) => status.as_str() == "ACTIVE",
                (None, None) => true,
            };
            if let (true, Some(id)) = (active, account.id) {
                ids.push(id);
            }
        }
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// A member account: the caller's own credentials for the caller's account, else `org_role`
/// assumed there; proven with GetCallerIdentity, then its regions listed.
async fn member_account(
    opts: &CollectOptions,
    base: &SdkConfig,
    caller: &str,
    id: &str,
    counters: &Counters,
) -> Result<Account, String> {
    let config = if id == caller {
        base.clone()
    } else {
        let role = format!("arn:aws:iam::{id}:role/{}", opts.org_role);
        let config = auth::assume(base, &role, opts.external_id.as_deref()).await;
        auth::account_id(&config, counters)
            .await
            .map_err(|e| format!("assuming {role}: {e}"))?;
        config
    };
    let regions = regions_for(opts, &config, counters)
        .await
        .map_err(|e| format!("DescribeRegions: {e}"))?;
    Ok(Account {
        id: id.to_string(),
        config,
        regions,
    })
}

fn now_rfc3339() -> String {
    aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}
