#!/usr/bin/env bash
# Benchmark: `scan aws` against a moto server holding 2,000 security groups x 5 egress rules.
# Prints wall time, peak RSS and API calls for `collect aws` and `scan aws`.
#
#   bench/aws_moto.sh                 # builds the debug binary with --features aws
#   BIN=target/release/egress-audit bench/aws_moto.sh
#   SG_COUNT=500 RULES=5 bench/aws_moto.sh
#
# Needs python3 with moto[server] and boto3 (`python3 -m pip install 'moto[server]'`) and
# /usr/bin/time (GNU time). Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

SG_COUNT=${SG_COUNT:-2000}
RULES=${RULES:-5}
REGION=${REGION:-us-east-1}
OUT=${OUT:-bench/out/aws_moto}
mkdir -p "$OUT"

if [[ -z "${BIN:-}" ]]; then
  cargo build --quiet --features aws
  BIN=target/debug/egress-audit
fi

if command -v moto_server >/dev/null; then MOTO=(moto_server); else MOTO=(python3 -m moto.server); fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${MOTO[@]}" -H 127.0.0.1 -p "$PORT" >"$OUT/moto.log" 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null || true; wait $MOTO_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$PORT/moto-api/" >/dev/null 2>&1 && break
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/moto-api/')" 2>/dev/null && break
  sleep 0.2
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=$REGION AWS_DEFAULT_REGION=$REGION AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN

echo "seeding $SG_COUNT security groups x $RULES egress rules (sequentially; moto is not thread-safe)..."
SEED_START=$(date +%s.%N)
python3 - "$SG_COUNT" "$RULES" <<'PY'
import sys, boto3
groups, rules = int(sys.argv[1]), int(sys.argv[2])
ec2 = boto3.client("ec2")
vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
for g in range(groups):
    gid = ec2.create_security_group(GroupName=f"bench-{g}", Description="bench", VpcId=vpc)["GroupId"]
    ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    perms = [{"IpProtocol": "tcp", "FromPort": 1000 + r, "ToPort": 1000 + r,
              "IpRanges": [{"CidrIp": f"{(g * rules + r) % 223 + 1}.0.0.0/8"}]} for r in range(rules)]
    ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=perms)
PY
SEED_END=$(date +%s.%N)
printf 'seeded in %.1f s\n' "$(echo "$SEED_END - $SEED_START" | bc)"

measure() { # name, then the command
  local name=$1; shift
  /usr/bin/time -v -o "$OUT/$name.time" "$@" >"$OUT/$name.stdout" 2>"$OUT/$name.stderr" || true
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' "$OUT/$name.time" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$OUT/$name.time" | awk '{print $NF}')
  echo "$name: wall $wall, peak RSS $((rss / 1024)) MiB"
}

measure collect "$BIN" collect aws --region "$REGION" --out "$OUT/snapshot.json" --quiet
python3 - "$OUT/snapshot.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
sgs = sum(len(d["data"].get("SecurityGroups", [])) for d in s["documents"])
rules = sum(len(g["IpPermissionsEgress"]) for d in s["documents"] for g in d["data"].get("SecurityGroups", []))
st = s.get("stats", {})
print(f"collect: {sgs} security groups, {rules} egress rules, {st.get('api_calls')} API calls, "
      f"{st.get('retries')} retries, {st.get('throttles')} throttles, collector {st.get('elapsed_ms')} ms")
PY
measure scan "$BIN" scan aws --region "$REGION" --format json --quiet --output "$OUT/report.json"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('scan:', r['summary'].get('targets'), 'targets,', len(r['findings']), 'findings')" "$OUT/report.json" 2>/dev/null \
  || echo "scan: no report: $(head -c 300 "$OUT/scan.stderr")"

# Where the time goes: moto answering one DescribeSecurityGroups of everything, alone.
python3 - <<'PY'
import time, boto3
ec2 = boto3.client("ec2")
t = time.time(); n = len(ec2.describe_security_groups()["SecurityGroups"]); t = time.time() - t
print(f"moto alone: DescribeSecurityGroups of {n} groups takes {t:.2f} s (boto3)")
PY
