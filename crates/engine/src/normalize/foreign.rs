//! JSON files that are recognisably *not* inputs: the other JSON that real folders hold beside
//! exports (an npm `package.json`, a `tsconfig.json`, egress-audit's own reports, Terraform
//! files, JSON Schemas, CloudFormation or ARM templates).
//!
//! In a folder such a file is skipped with a warning, so one `package.json` does not stop a scan;
//! given explicitly (`--input file`) it is still an error, with a hint at what was meant. A JSON
//! file that is neither an input nor recognisably foreign stays an error in both cases: a
//! mangled export must never pass for "nothing to read" (fail closed).

use serde_json::Value;

/// What a foreign file is, and what the user probably meant instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Foreign {
    /// `an egress-audit JSON report`, `a Terraform state file`, …
    pub what: &'static str,
    /// What to do instead, e.g. `did you mean --baseline?`.
    pub hint: &'static str,
}

const TERRAFORM_HINT: &str = "Terraform is not read yet; scan what Terraform created instead: \
export it with `aws ec2 describe-security-groups --output json` (and the other describe-* listings), \
`az network nsg list`, `gcloud compute firewall-rules list --format=json`, or collect it with \
`egress-audit collect aws|azure|gcp`";

const TEMPLATE_HINT: &str = "templates are not read; scan the deployed resources instead: export \
them with `aws ec2 describe-security-groups --output json`, `az network nsg list` or \
`gcloud compute firewall-rules list --format=json`, or collect them with `egress-audit collect`";

const REPORT_HINT: &str =
    "did you mean --baseline? (it takes a report written by `scan --format json`)";

const NOT_EGRESS: &str = "it holds no network controls";

/// The top-level blocks of Terraform's JSON configuration syntax (`*.tf.json`).
const TF_BLOCKS: &[&str] = &[
    "terraform",
    "provider",
    "resource",
    "data",
    "module",
    "variable",
    "output",
    "locals",
    "moved",
    "import",
    "check",
    "removed",
];

/// Tells a foreign document by its content (never by its file name, like every input).
pub fn classify(v: &Value) -> Option<Foreign> {
    let obj = v.as_object()?;
    let has = |k: &str| obj.contains_key(k);
    let str_of = |k: &str| obj.get(k).and_then(Value::as_str);
    let foreign = |what, hint| Some(Foreign { what, hint });

    if v.pointer("/tool/name").and_then(Value::as_str) == Some("egress-audit") && has("findings") {
        return foreign("an egress-audit JSON report, not an input", REPORT_HINT);
    }
    let schema = str_of("$schema").unwrap_or_default();
    if schema.contains("sarif") || (has("runs") && str_of("version") == Some("2.1.0")) {
        let ours = v
            .pointer("/runs/0/tool/driver/name")
            .and_then(Value::as_str)
            == Some("egress-audit");
        return if ours {
            foreign("an egress-audit SARIF report, not an input", REPORT_HINT)
        } else {
            foreign("a SARIF log, not an input", NOT_EGRESS)
        };
    }
    if has("terraform_version") {
        return if has("lineage") || has("serial") {
            foreign("a Terraform state file", TERRAFORM_HINT)
        } else {
            foreign(
                "a Terraform plan or state in JSON (`terraform show -json`)",
                TERRAFORM_HINT,
            )
        };
    }
    if !obj.is_empty()
        && obj
            .keys()
            .all(|k| TF_BLOCKS.contains(&k.as_str()) || k == "//")
        && obj.keys().any(|k| k != "//")
    {
        return foreign(
            "a Terraform configuration in JSON syntax (*.tf.json)",
            TERRAFORM_HINT,
        );
    }
    if has("AWSTemplateFormatVersion")
        || obj
            .get("Resources")
            .and_then(Value::as_object)
            .is_some_and(|r| {
                r.values().any(|x| {
                    x.get("Type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.starts_with("AWS::"))
                })
            })
    {
        return foreign("an AWS CloudFormation template", TEMPLATE_HINT);
    }
    if schema.contains("deploymentTemplate") || schema.contains("deploymentParameters") {
        return foreign("an Azure Resource Manager template", TEMPLATE_HINT);
    }
    if schema.contains("json-schema.org") {
        return foreign("a JSON Schema", NOT_EGRESS);
    }
    if has("lockfileVersion") {
        return foreign("an npm lock file", NOT_EGRESS);
    }
    let npm_keys = [
        "dependencies",
        "devDependencies",
        "peerDependencies",
        "scripts",
        "main",
        "workspaces",
    ];
    if str_of("name").is_some() && npm_keys.iter().any(|k| has(k)) {
        return foreign("an npm package manifest (package.json)", NOT_EGRESS);
    }
    if obj.get("compilerOptions").is_some_and(Value::is_object) {
        return foreign("a TypeScript or JavaScript compiler config", NOT_EGRESS);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recognises_what_real_folders_hold() {
        let cases = [
            (
                json!({"name": "web", "version": "1.0.0", "scripts": {"build": "tsc"}}),
                "npm package manifest",
            ),
            (
                json!({"name": "web", "lockfileVersion": 3, "packages": {}}),
                "npm lock file",
            ),
            (
                json!({"compilerOptions": {"strict": true}, "include": ["src"]}),
                "compiler config",
            ),
            (
                json!({"tool": {"name": "egress-audit", "version": "0.1.0"}, "findings": [], "warnings": []}),
                "egress-audit JSON report",
            ),
            (
                json!({"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
                       "runs": [{"tool": {"driver": {"name": "egress-audit"}}}]}),
                "egress-audit SARIF report",
            ),
            (
                json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "checkov"}}}]}),
                "a SARIF log",
            ),
            (
                json!({"version": 4, "terraform_version": "1.9.0", "serial": 3, "lineage": "x", "resources": []}),
                "Terraform state",
            ),
            (
                json!({"format_version": "1.2", "terraform_version": "1.9.0", "planned_values": {}}),
                "Terraform plan",
            ),
            (
                json!({"resource": {"aws_security_group": {"web": {"name": "web"}}}, "provider": {"aws": {}}}),
                "Terraform configuration",
            ),
            (
                json!({"Resources": {"Sg": {"Type": "AWS::EC2::SecurityGroup"}}}),
                "CloudFormation",
            ),
            (
                json!({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "resources": []}),
                "Resource Manager template",
            ),
            (
                json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}),
                "JSON Schema",
            ),
        ];
        for (doc, says) in cases {
            let f = classify(&doc).unwrap_or_else(|| panic!("not recognised: {doc}"));
            assert!(f.what.contains(says), "{doc}: {f:?}");
        }
        let report = classify(&cases_report()).unwrap();
        assert!(report.hint.contains("did you mean --baseline?"));
        let tf = classify(&json!({"terraform": {"required_version": ">= 1.5"}})).unwrap();
        assert!(tf.hint.contains("Terraform is not read yet") && tf.hint.contains("collect"));
    }

    fn cases_report() -> Value {
        json!({"tool": {"name": "egress-audit", "version": "0"}, "findings": []})
    }

    #[test]
    fn exports_and_unknown_json_are_not_foreign() {
        for doc in [
            json!({"SecurityGroups": []}),
            json!({"value": []}),
            json!({"items": []}),
            json!({"hello": "world"}),
            json!({}),
            json!([]),
            // An object named like a package but with nothing of a manifest in it.
            json!({"name": "sg-1", "version": "1"}),
        ] {
            assert_eq!(classify(&doc), None, "{doc}");
        }
    }
}
