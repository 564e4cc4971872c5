#!/usr/bin/env bash
# Benchmark: a large AWS estate, every report format. Generates SG_COUNT security groups × RULES
# egress rules (all different) and ENI_COUNT ENIs (each in one or two of the groups), as
# `aws ec2 describe-security-groups` / `describe-network-interfaces` print them (defaults: 50,000 ×
# 20 + 50,000, ≈271 MB), then runs `scan --format F --output FILE` for every format under
# /usr/bin/time -v and prints wall time and peak RSS side by side. Then two non-inputs that must
# be refused after their first bytes, in bounded memory, with exit 2: SIZE_MB of random bytes and
# a SIZE_MB JSON array that is not an export.
#
#   BIN=target/release/egress-audit bench/estate.sh          # cargo build --release first
#   SG_COUNT=5000 ENI_COUNT=5000 BIN=… bench/estate.sh        # a tenth of it
#   FORMATS="json sarif" BIN=… bench/estate.sh
#
# Goal (issue 12 §2): every format under 2 GB peak and under 20 s. Each run also prints its
# stages (read, build, checks, …, written: seconds since the start and peak MiB). Generated data
# goes to $DATA (default /tmp/egress-estate) and is removed at the end unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

SG_COUNT=${SG_COUNT:-50000}
RULES=${RULES:-20}
ENI_COUNT=${ENI_COUNT:-50000}
SIZE_MB=${SIZE_MB:-1024}
FORMATS=${FORMATS:-json sarif csv junit markdown html table}
DATA=${DATA:-/tmp/egress-estate}
BIN=${BIN:-target/release/egress-audit}
[[ -x "$BIN" ]] || { echo "no binary at $BIN: cargo build --release (or set BIN)" >&2; exit 2; }

mkdir -p "$DATA/in" "$DATA/out"
cleanup() { [[ "${KEEP:-0}" == 1 ]] || rm -rf "$DATA"; }
trap cleanup EXIT

echo "generating $SG_COUNT security groups × $RULES egress rules and $ENI_COUNT ENIs in $DATA/in ..."
python3 - "$DATA/in" "$SG_COUNT" "$RULES" "$ENI_COUNT" <<'PY'
import json, random, sys
out, groups, rules, enis = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(12)
owner, vpc = "111122223333", "vpc-0e57a7e0000000001"

def perm():
    kind = rnd.randrange(10)
    if kind == 0:
        return {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
                "PrefixListIds": [], "UserIdGroupPairs": []}
    lo = rnd.randrange(65536)
    hi = min(65535, lo + rnd.choice([0, 0, 10, 100, 2000]))
    cidr = rnd.choice([
        "0.0.0.0/0",
        f"{rnd.randrange(1, 224)}.{rnd.randrange(256)}.0.0/16",
        f"{rnd.randrange(1, 224)}.{rnd.randrange(256)}.{rnd.randrange(256)}.0/24",
        f"10.{rnd.randrange(256)}.0.0/16",
    ])
    return {"IpProtocol": rnd.choice(["tcp", "udp", "tcp"]), "FromPort": lo, "ToPort": hi,
            "IpRanges": [{"CidrIp": cidr, "Description": f"rule to {cidr}"}], "Ipv6Ranges": [],
            "PrefixListIds": [], "UserIdGroupPairs": []}

with open(f"{out}/security-groups.json", "w") as f:
    f.write('{"SecurityGroups": [\n')
    for g in range(groups):
        sg = {"Description": f"estate group {g}", "GroupName": f"estate-{g}",
              "IpPermissions": [], "OwnerId": owner, "GroupId": f"sg-{g:017x}",
              "IpPermissionsEgress": [perm() for _ in range(rules)], "VpcId": vpc,
              "Tags": [{"Key": "team", "Value": f"t{g % 97}"}]}
        f.write(("," if g else "") + json.dumps(sg) + "\n")
    f.write("]}\n")

with open(f"{out}/network-interfaces.json", "w") as f:
    f.write('{"NetworkInterfaces": [\n')
    for e in range(enis):
        gs = sorted({rnd.randrange(groups) for _ in range(rnd.choice([1, 2]))})
        eni = {"AvailabilityZone": "us-east-1a", "Description": f"estate eni {e}",
               "Groups": [{"GroupId": f"sg-{g:017x}", "GroupName": f"estate-{g}"} for g in gs],
               "InterfaceType": "interface", "Ipv6Addresses": [], "MacAddress": "0e:00:00:00:00:01",
               "NetworkInterfaceId": f"eni-{e:017x}", "OwnerId": owner,
               "PrivateIpAddress": f"10.{(e >> 16) & 255}.{(e >> 8) & 255}.{e & 255}",
               "PrivateIpAddresses": [], "RequesterManaged": False, "SourceDestCheck": True,
               "Status": "in-use", "SubnetId": "subnet-0e57a7e0000000001", "TagSet": [], "VpcId": vpc}
        f.write(("," if e else "") + json.dumps(eni) + "\n")
    f.write("]}\n")
PY
du -sh "$DATA/in" | sed 's/^/exports: /'

measure() { # label, then the command; prints "label  wall  peak-RSS  exit"
  local label=$1; shift
  local log="$DATA/out/time.log" rc=0
  /usr/bin/time -v "$@" >"$DATA/out/stdout" 2>"$log" || rc=$?
  local wall cpu rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
  # CPU seconds (user + system): on a busy shared machine wall time mostly measures the others.
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.1f s", u+s}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f MB", $2/1024}' "$log")
  printf '%-34s %10s %10s %10s   exit %s\n' "$label" "$wall" "$cpu" "$rss" "$rc"
  if [[ $rc -ge 2 ]]; then grep -v '^\s' "$log" | grep -v 'Command being timed' | head -3 | sed 's/^/    /'; fi
  # Where the time and memory went (EGRESS_AUDIT_TRACE_STAGES), on one line.
  # A run that printed no stage (a refused input) has none to show; not an error of the script.
  { grep '^stage ' "$log" || true; } | awk '{printf "%s%s %s s %s MiB", (NR > 1 ? " | " : "    stages: "), $2, $3, $9} END {if (NR) print ""}'
}

echo "uptime: $(uptime)"
# The tree's commit is the code measured only when BIN was built from this tree: say both.
echo "binary: $BIN ($("$BIN" --version 2>/dev/null || echo '?'), built $(date -r "$BIN" '+%F %T')); tree at $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
printf '%-34s %10s %10s %10s\n' "run" "wall" "CPU" "peak RSS"
for f in $FORMATS; do
  EGRESS_AUDIT_TRACE_STAGES=1 measure "scan --format $f" "$BIN" scan --input "$DATA/in" --format "$f" \
    --output "$DATA/out/report.$f" --fail-on critical --quiet
  ls -la "$DATA/out/report.$f" 2>/dev/null | awk '{printf "    report: %.1f MB\n", $5/1048576}'
  rm -f "$DATA/out/report.$f"
  # The next run should not pay for writing back this one's gigabytes.
  sync
done
[[ "${KEEP:-0}" == 1 ]] || rm -rf "$DATA/in"

echo "non-inputs ($SIZE_MB MB each): refused after the first bytes, exit 2"
mkdir -p "$DATA/bad"
head -c "$((SIZE_MB * 1048576))" /dev/urandom >"$DATA/bad/random.json"
measure "random bytes" "$BIN" scan --input "$DATA/bad/random.json" --format json --quiet
rm -f "$DATA/bad/random.json"
python3 - "$DATA/bad/array.json" "$SIZE_MB" <<'PY'
import sys
path, mb = sys.argv[1], int(sys.argv[2])
row = '{"timestamp": 1733300000, "level": "info", "message": "not an export at all"},\n'
with open(path, "w") as f:
    f.write("[\n")
    for _ in range(mb * 1048576 // len(row)):
        f.write(row)
    f.write('{"end": true}]\n')
PY
measure "JSON array, not an export" "$BIN" scan --input "$DATA/bad/array.json" --format json --quiet
rm -f "$DATA/bad/array.json"
