//! The aggregation as SQL, for when the logs live in S3 or BigQuery: the engine the user already
//! has does the heavy scan, egress-audit reads its result (the aggregated format, see
//! [`crate::aggregated`]) as a `--flows` input. docs/FLOWS.md has the tables and commands.
//!
//! The SQL applies the readers' rules exactly: only `OK` records (`NODATA`/`SKIPDATA` excluded),
//! `ACCEPT`/`REJECT` only, `pkt-dstaddr` over `dstaddr` when present, egress = `flow-direction`
//! `egress`, or no direction and a non-public source (`CHECKS.md` §1's special-purpose blocks).

/// Which SQL dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlEngine {
    /// Athena (Trino) over the AWS VPC flow log table `vpc_flow_logs` (docs/FLOWS.md's DDL).
    Athena,
    /// BigQuery over the Cloud Logging sink tables of GCP VPC Flow Logs and Firewall Rules Logging
    /// in the dataset `flow_logs`.
    BigQuery,
    /// DuckDB over a view `vpc_flow_logs` of AWS Parquet or text files.
    DuckDb,
}

/// IPv4 special-purpose prefixes of `CHECKS.md` §1 (the non-public ones), as a regular expression.
const V4_NOT_PUBLIC: &str = r"^(0|10|127|22[4-9]|23[0-9]|24[0-9]|25[0-5])\.|^100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.|^169\.254\.|^172\.(1[6-9]|2[0-9]|3[01])\.|^192\.0\.[02]\.|^192\.168\.|^198\.1[89]\.|^198\.51\.100\.|^203\.0\.113\.";
/// `2000::/3` written out (four hex digits, then a colon).
const V6_GLOBAL: &str = "^[23][0-9a-f]{3}:";
const V6_DOC: &str = "^2001:0?db8:";

/// The aggregation query for `engine`; its result columns are [`crate::aggregated::COLUMNS`].
pub fn aggregation_sql(engine: SqlEngine) -> String {
    match engine {
        SqlEngine::Athena => aws("regexp_like", "VARCHAR"),
        SqlEngine::DuckDb => aws("regexp_matches", "VARCHAR"),
        SqlEngine::BigQuery => bigquery(),
    }
}

fn aws(re: &str, text: &str) -> String {
    let not_public = |col: &str| {
        format!(
            "(CASE WHEN strpos({col}, ':') > 0 \
             THEN NOT {re}(lower({col}), '{V6_GLOBAL}') OR {re}(lower({col}), '{V6_DOC}') \
             ELSE {re}({col}, '{V4_NOT_PUBLIC}') END)"
        )
    };
    format!(
        "-- egress-audit flows aggregation ({engine}); result columns: {cols}
WITH records AS (
  SELECT
    NULLIF(CAST(interface_id AS {text}), '-') AS interface_id,
    NULLIF(CAST(instance_id AS {text}), '-') AS instance_id,
    CAST(srcaddr AS {text}) AS src,
    COALESCE(NULLIF(CAST(pkt_dstaddr AS {text}), '-'), CAST(dstaddr AS {text})) AS dst,
    CAST(protocol AS BIGINT) AS protocol,
    CAST(dstport AS BIGINT) AS dst_port,
    CASE action WHEN 'ACCEPT' THEN 'accepted' ELSE 'denied' END AS action,
    NULLIF(CAST(flow_direction AS {text}), '-') AS direction,
    COALESCE(CAST(packets AS BIGINT), 0) AS packets,
    COALESCE(CAST(bytes AS BIGINT), 0) AS bytes,
    CAST(start AS BIGINT) AS first_seen,
    CAST(\"end\" AS BIGINT) AS last_seen
  FROM vpc_flow_logs
  WHERE COALESCE(NULLIF(CAST(log_status AS {text}), '-'), 'OK') = 'OK'
    AND action IN ('ACCEPT', 'REJECT')
)
SELECT interface_id, instance_id, src, dst, protocol, dst_port, action,
  CAST(NULL AS {text}) AS logged_rule,
  COUNT(*) AS flows, SUM(packets) AS packets, SUM(bytes) AS bytes,
  MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen
FROM records
WHERE direction = 'egress' OR (direction IS NULL AND {src_not_public})
GROUP BY interface_id, instance_id, src, dst, protocol, dst_port, action
ORDER BY interface_id, instance_id, src, dst, protocol, dst_port, action
",
        engine = if re == "regexp_like" {
            "Athena"
        } else {
            "DuckDB"
        },
        cols = crate::aggregated::COLUMNS.join(", "),
        src_not_public = not_public("src"),
    )
}

fn bigquery() -> String {
    format!(
        "-- egress-audit flows aggregation (BigQuery); result columns: {cols}
-- Replace `flow_logs` with the dataset of your Cloud Logging sink.
WITH vpc AS (
  SELECT
    CONCAT(jsonPayload.src_instance.project_id, '/', jsonPayload.src_instance.zone, '/',
           jsonPayload.src_instance.vm_name) AS interface_id,
    jsonPayload.src_instance.vm_name AS instance_id,
    jsonPayload.connection.src_ip AS src,
    jsonPayload.connection.dest_ip AS dst,
    CAST(jsonPayload.connection.protocol AS INT64) AS protocol,
    COALESCE(CAST(jsonPayload.connection.dest_port AS INT64), 0) AS dst_port,
    'accepted' AS action,
    CAST(NULL AS STRING) AS logged_rule,
    SAFE_CAST(jsonPayload.packets_sent AS INT64) AS packets,
    SAFE_CAST(jsonPayload.bytes_sent AS INT64) AS bytes,
    UNIX_SECONDS(jsonPayload.start_time) AS first_seen,
    UNIX_SECONDS(jsonPayload.end_time) AS last_seen
  FROM `flow_logs.compute_googleapis_com_vpc_flows_*`
  WHERE jsonPayload.reporter = 'SRC'
),
firewall AS (
  SELECT
    CONCAT(jsonPayload.instance.project_id, '/', jsonPayload.instance.zone, '/',
           jsonPayload.instance.vm_name) AS interface_id,
    jsonPayload.instance.vm_name AS instance_id,
    jsonPayload.connection.src_ip AS src,
    jsonPayload.connection.dest_ip AS dst,
    CAST(jsonPayload.connection.protocol AS INT64) AS protocol,
    COALESCE(CAST(jsonPayload.connection.dest_port AS INT64), 0) AS dst_port,
    IF(jsonPayload.disposition = 'ALLOWED', 'accepted', 'denied') AS action,
    jsonPayload.rule_details.reference AS logged_rule,
    0 AS packets,
    0 AS bytes,
    UNIX_SECONDS(timestamp) AS first_seen,
    UNIX_SECONDS(timestamp) AS last_seen
  FROM `flow_logs.compute_googleapis_com_firewall_*`
  WHERE jsonPayload.rule_details.direction = 'EGRESS'
)
SELECT interface_id, instance_id, src, dst, protocol, dst_port, action, logged_rule,
  COUNT(*) AS flows, SUM(packets) AS packets, SUM(bytes) AS bytes,
  MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen
FROM (SELECT * FROM vpc UNION ALL SELECT * FROM firewall)
GROUP BY interface_id, instance_id, src, dst, protocol, dst_port, action, logged_rule
ORDER BY interface_id, instance_id, src, dst, protocol, dst_port, action, logged_rule
",
        cols = crate::aggregated::COLUMNS.join(", ")
    )
}
