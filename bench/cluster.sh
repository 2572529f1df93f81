#!/usr/bin/env bash
# A cluster on one PostgreSQL database, 1, 2 and 3 nodes in turn (docs/scale-out.md), each node
# a release `dialtone serve` on its own loopback address (127.0.0.1, .2, .3):
#   - boot storm: N phones (7960 and 8861 in turn) played by `fleet`, given every node (phone i
#     starts on node i mod K), cold then warm; every phone's bytes compared with the preview of
#     the file as the node it used serves it;
#   - import: M lines uploaded to node 1 (POST /api/v1/imports), timed until the job is done;
#   - commit to file: a line's alerting name changed through node 1's API, then its phone's file
#     asked of node K (the last one) until it says the new name; R times: p50, p99, max.
# All on one machine: the nodes share its cores (and PostgreSQL's), so the figures say what the
# cluster costs and how fast it agrees, not how far it scales across machines.
# Usage: N=10000 M=20000 R=200 bash bench/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000}; M=${M:-20000}; R=${R:-200}; NODES=${NODES:-"1 2 3"}
PG=${DIALTONE_TEST_POSTGRES:-postgres://postgres:postgres@127.0.0.1:5432/postgres}
cargo build --release -q -p dialtone -p dialtone-fleet
export DIALTONE_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
export DIALTONE_ADMIN_PASSWORD=bench-password FLEET_ADMIN_PASSWORD=bench-password
export DIALTONE_ADMIN__HTTPS_LISTEN=""
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
echo "# $(nproc) cores, $(uname -r), $(date -u +%F), commit $(git rev-parse --short HEAD)" >&2
base=${PG%/*}
python3 - "$dir" "$N" "$M" <<'PY'
import sys
d, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(f"{d}/phones.csv", "w") as f:
    f.write("MAC ADDRESS,DEVICE TYPE,DIRECTORY NUMBER 1\n")
    for i in range(n):
        f.write(f"0A{i:010X},{'8861' if i % 2 else '7960'},{100000 + i}\n")
with open(f"{d}/lines.csv", "w") as f:
    f.write("DIRECTORY NUMBER,DESCRIPTION,ALERTING NAME\n")
    for i in range(m):
        f.write(f"{3000000 + i},Bench line {i},Alert {i}\n")
PY

for k in $NODES; do
  db="dialtone_bench_cluster_$k"
  psql -q "$PG" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
  url="$base/$db"
  target/release/dialtone --db "$url" import --kind phones --yes "$dir/phones.csv" >/dev/null
  https=(); admins=()
  for i in $(seq 1 "$k"); do
    ip=127.0.0.$i
    DIALTONE_CLUSTER__NODE=node$i target/release/dialtone --db "$url" serve \
      --admin $ip:18180 --http $ip:16970 >"$dir/node$i.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 150); do target/release/dialtone healthcheck --admin $ip:18180 >/dev/null 2>&1 && break; sleep 0.1; done
    https+=("http://$ip:16970"); admins+=("http://$ip:18180")
  done
  list=$(IFS=,; echo "${https[*]}")
  for cache in cold warm; do
    result=$(timeout 1800 target/release/fleet --phones "$N" --model 7960,8861 --mac-prefix 0A --mac-start 0 \
      --http "$list" --sip-port 0 --concurrency 512 --admin "${admins[0]}" || true)
    echo "{\"nodes\": $k, \"phones\": $N, \"cache\": \"$cache\", \"fleet\": $result}"
  done
  # The import, uploaded to node 1.
  start=$(date +%s.%N)
  job=$(curl -s -u admin:bench-password -H 'content-type: text/csv' --data-binary "@$dir/lines.csv" \
    "${admins[0]}/api/v1/imports?kind=lines&source=bench.csv" | sed 's/.*"id":\([0-9]*\).*/\1/')
  while :; do
    state=$(curl -s -u admin:bench-password "${admins[0]}/api/v1/imports/$job" | sed 's/.*"state":"\([a-z]*\)".*/\1/')
    [ "$state" != running ] && break
    sleep 0.05
  done
  end=$(date +%s.%N)
  ok=$(curl -s -u admin:bench-password "${admins[0]}/api/v1/imports/$job" | sed 's/.*"ok":\([0-9]*\).*/\1/')
  echo "{\"nodes\": $k, \"import_rows\": $M, \"state\": \"$state\", \"ok\": $ok, \"seconds\": $(echo "$end - $start" | bc), \"rows_per_s\": $(echo "$M / ($end - $start)" | bc)}"
  # Commit on node 1, file from node K.
  python3 - "${admins[0]}" "${https[$((k - 1))]}" "$R" "$k" <<'PY'
import base64, http.client, json, sys, time, urllib.parse
admin, phone, rounds, k = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
auth = "Basic " + base64.b64encode(b"admin:bench-password").decode()
a = urllib.parse.urlsplit(admin); p = urllib.parse.urlsplit(phone)
ac = http.client.HTTPConnection(a.hostname, a.port); pc = http.client.HTTPConnection(p.hostname, p.port)
def api(method, path, body=None):
    ac.request(method, path, body=json.dumps(body) if body is not None else None,
               headers={"authorization": auth, "content-type": "application/json"})
    r = ac.getresponse(); data = r.read()
    return r.status, json.loads(data) if data else None
times = []
for i in range(rounds):
    # Phone 1 (an 8861, line 100001): its file names the line's alerting name.
    s, line = api("GET", "/api/v1/lines/100001")
    name = f"Probe {k} {i}"
    t0 = time.perf_counter()
    s, v = api("PATCH", "/api/v1/lines/100001", {"version": line["version"], "alerting_name": name})
    assert s == 200, v
    while True:
        pc.request("GET", "/0a0000000001.xml"); r = pc.getresponse(); body = r.read()
        if name.encode() in body:
            break
    times.append((time.perf_counter() - t0) * 1000)
times.sort()
pick = lambda q: times[min(len(times) - 1, int((len(times) - 1) * q + 0.5))]
print(json.dumps({"nodes": int(k), "commit_to_file_rounds": rounds, "served_by": phone,
                  "p50_ms": round(pick(0.5), 1), "p99_ms": round(pick(0.99), 1), "max_ms": round(times[-1], 1)}))
PY
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  psql -q "$PG" -c "DROP DATABASE IF EXISTS $db" >/dev/null || true
done
