//! Every active project under an organization or folder, from Resource Manager v3: projects
//! directly under the parent, then the same for each active sub-folder, breadth first.

use crate::retry::{Caller, Failure};
use crate::{api_root, Config};
use google_cloud_auth::credentials::Credentials;
use google_cloud_gax::retry_policy::NeverRetry;
use google_cloud_resourcemanager_v3::client::{Folders, Projects};
use google_cloud_resourcemanager_v3::model::{folder, project};
use std::collections::VecDeque;

const VERSION_PATHS: &[&str] = &["/v3", "/v1"];

pub async fn enumerate(
    config: &Config,
    credentials: &Credentials,
    caller: &Caller,
) -> anyhow::Result<Vec<String>> {
    let root = match (&config.organization, &config.folder) {
        (Some(org), _) => parent_name("organizations", org),
        (None, Some(folder)) => parent_name("folders", folder),
        (None, None) => {
            anyhow::bail!("nothing to scan: give --project ID, --organization ID or --folder ID")
        }
    };
    let endpoint = config
        .resource_manager_endpoint
        .as_deref()
        .map(|e| api_root(e, VERSION_PATHS));
    let mut projects_builder = Projects::builder()
        .with_credentials(credentials.clone())
        .with_retry_policy(NeverRetry);
    let mut folders_builder = Folders::builder()
        .with_credentials(credentials.clone())
        .with_retry_policy(NeverRetry);
    if let Some(e) = &endpoint {
        projects_builder = projects_builder.with_endpoint(e.clone());
        folders_builder = folders_builder.with_endpoint(e.clone());
    }
    let projects_client = projects_builder
        .build()
        .await
        .map_err(|e| anyhow::anyhow!("cannot set up the Resource Manager client: {e}"))?;
    let folders_client = folders_builder
        .build()
        .await
        .map_err(|e| anyhow::anyhow!("cannot set up the Resource Manager client: {e}"))?;

    let mut found = Vec::new();
    let mut parents = VecDeque::from([root]);
    while let Some(parent) = parents.pop_front() {
        let mut token = String::new();
        loop {
            let what = format!("projects.list(parent={parent})");
            let page = caller
                .call(&what, || projects_page(&projects_client, &parent, &token))
                .await
                .map_err(|e| listing_error(e, &parent))?;
            found.extend(
                page.projects
                    .into_iter()
                    .filter(|p| p.state == project::State::Active)
                    .map(|p| p.project_id),
            );
            if page.next_page_token.is_empty() || page.next_page_token == token {
                break;
            }
            token = page.next_page_token;
        }
        let mut token = String::new();
        loop {
            let what = format!("folders.list(parent={parent})");
            let page = caller
                .call(&what, || {
                    folders_client
                        .list_folders()
                        .set_parent(parent.clone())
                        .set_page_token(token.clone())
                        .send()
                })
                .await
                .map_err(|e| listing_error(e, &parent))?;
            parents.extend(
                page.folders
                    .into_iter()
                    .filter(|f| f.state == folder::State::Active)
                    .map(|f| f.name),
            );
            if page.next_page_token.is_empty() || page.next_page_token == token {
                break;
            }
            token = page.next_page_token;
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn projects_page(
    client: &Projects,
    parent: &str,
    token: &str,
) -> impl std::future::Future<
    Output = google_cloud_gax::Result<google_cloud_resourcemanager_v3::model::ListProjectsResponse>,
> {
    client
        .list_projects()
        .set_parent(parent.to_string())
        .set_page_token(token.to_string())
        .send()
}

fn listing_error(e: Failure, parent: &str) -> anyhow::Error {
    match e {
        Failure::Credentials(m) => anyhow::anyhow!("{m}"),
        Failure::Api { reason } => anyhow::anyhow!(
            "cannot list the projects under {parent} ({reason}); the caller needs roles/browser there, or give --project"
        ),
    }
}

/// `123` or `organizations/123` → `organizations/123`.
fn parent_name(kind: &str, id: &str) -> String {
    let id = id.trim().trim_start_matches(&format!("{kind}/"));
    format!("{kind}/{id}")
}
