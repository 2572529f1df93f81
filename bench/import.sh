#!/usr/bin/env bash
# CSV import throughput: N lines, N users (each with a primary extension) and N phones (each
# with its line and owner), imported with `dialtone import` (release build) into a fresh
# database, on SQLite and, when it answers at $DIALTONE_TEST_POSTGRES, on PostgreSQL; then the
# same files uploaded to a running server (POST /api/v1/imports, the job the console's upload
# starts) into another fresh database, timed from the upload until the job is done.
# Prints rows/s per file and backend. Usage: N=100000 bash bench/import.sh
# LICENSED=1: licence units enforced (docs/licensing.md): every user with Enable CUP, a licence
# with room for all uploaded first, so each row is counted against it.
# SECRETS=1 (the default): also N users each with a password and a PIN (as BAT users files
# usually are), into a fresh database with `dialtone import`: the import's rows/s, then the time
# until every secret has its argon2id hash (docs/csv.md "Passwords and PINs"). SECRETS=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
PG=${DIALTONE_TEST_POSTGRES:-postgres://postgres:postgres@127.0.0.1:5432/postgres}
cargo build --release -q -p dialtone
export DIALTONE_SECRET_KEY=$(head -c 32 /dev/urandom | base64) DIALTONE_ADMIN_PASSWORD=bench-password
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
LICENSED=${LICENSED:-0}
if [ "$LICENSED" = 1 ]; then
  target/release/dialtone licence keygen --out "$dir/seller.key" >"$dir/keygen.txt"
  export DIALTONE_LICENSING__PUBLIC_KEY=$(sed -n 's/^public_key = "\(.*\)"$/\1/p' "$dir/keygen.txt")
  target/release/dialtone licence make --key "$dir/seller.key" --id BENCH --issued-to bench \
    --device-units $((2 * N)) --presence-user-units "$N" --out "$dir/bench.lic" >/dev/null
fi
python3 - "$dir" "$N" "$LICENSED" <<'PY'
import sys
d, n, licensed = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
with open(f"{d}/lines.csv", "w") as f:
    f.write("DIRECTORY NUMBER,DESCRIPTION,ALERTING NAME,MAXIMUM NUMBER OF CALLS,BUSY TRIGGER\n")
    for i in range(n):
        f.write(f"{1000000+i},Line {i},User {i},4,2\n")
with open(f"{d}/users.csv", "w") as f:
    f.write("USER ID,FIRST NAME,LAST NAME,MAIL ID,PRIMARY EXTENSION,DEPARTMENT" + (",ENABLE CUP" if licensed else "") + "\n")
    for i in range(n):
        f.write(f"user{i:06d},First{i},Last{i},user{i}@example.com,{1000000+i},Dept {i%40}" + (",t" if licensed else "") + "\n")
with open(f"{d}/secrets.csv", "w") as f:
    f.write("USER ID,FIRST NAME,LAST NAME,MAIL ID,PIN,PASSWORD\n")
    for i in range(n):
        f.write(f"sec{i:06d},First{i},Last{i},sec{i}@example.com,{100000+i},Pass-{i:06d}-word\n")
with open(f"{d}/phones.csv", "w") as f:
    f.write("MAC ADDRESS,DEVICE TYPE,DESCRIPTION,OWNER USER ID,DIRECTORY NUMBER 1,LINE TEXT LABEL 1\n")
    for i in range(n):
        model = "8861" if i % 2 else "7960"
        f.write(f"0C{i:010X},{model},Desk {i},user{i:06d},{1000000+i},User {i}\n")
PY
echo "# $(nproc) cores, $(uname -r), $(date -u +%F), $N rows per file, licence units enforced: $LICENSED" >&2
run() { # backend url
  local backend=$1 url=$2
  target/release/dialtone --db "$url" migrate >/dev/null 2>&1
  [ "$LICENSED" = 1 ] && target/release/dialtone --db "$url" licence upload "$dir/bench.lic" >/dev/null
  for kind in lines users phones; do
    local start end out
    start=$(date +%s.%N)
    out=$(target/release/dialtone --db "$url" import --kind "$kind" --yes "$dir/$kind.csv" 2>&1 | tail -1)
    end=$(date +%s.%N)
    python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'{sys.argv[3]:<10} {sys.argv[4]:<7} {int(sys.argv[5])/s:8.0f} rows/s  ({s:.1f} s: {sys.argv[6]})')" \
      "$start" "$end" "$backend" "$kind" "$N" "$out"
  done
}
# Users with a password and a PIN: the import, then the hashing `dialtone import` waits for.
secrets() { # backend url
  local backend=$1 url=$2 start end out
  target/release/dialtone --db "$url" migrate >/dev/null 2>&1
  start=$(date +%s.%N)
  out=$(target/release/dialtone --db "$url" import --kind users --yes "$dir/secrets.csv" 2>/dev/null)
  end=$(date +%s.%N)
  python3 - "$start" "$end" "$backend" "$N" "$out" <<'PY3'
import re, sys
start, end, backend, n, out = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
imp = float(re.search(r" in ([0-9.]+) s \(import job", out).group(1))
hashed = re.search(r"(\d+) passwords and PINs hashed in ([0-9.]+) s", out)
print(f"{backend:<10} secrets {n / imp:8.0f} rows/s  ({imp:.1f} s import; "
      f"{hashed.group(1)} hashes done {float(hashed.group(2)):.1f} s later; {end - start:.1f} s in all)")
PY3
}
# The same files through a running server: upload, then poll the job until it is done.
server() { # backend url
  local backend=$1 url=$2 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  target/release/dialtone --db "$url" serve --admin "127.0.0.1:$port" --http 127.0.0.1:0 >"$dir/serve.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  [ "$LICENSED" = 1 ] && target/release/dialtone --db "$url" licence upload "$dir/bench.lic" >/dev/null
  for kind in lines users phones; do
    python3 - "$port" "$kind" "$dir/$kind.csv" "$backend" "$N" <<'PY2'
import sys, time, json, base64, urllib.request
port, kind, path, backend, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
auth = {"Authorization": "Basic " + base64.b64encode(b"admin:bench-password").decode()}
body = open(path, "rb").read()
start = time.monotonic()
req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/imports?kind={kind}&source={kind}.csv",
                             data=body, headers={**auth, "content-type": "text/csv"})
job = json.load(urllib.request.urlopen(req))
deadline = start + 600
while job["state"] == "running" and time.monotonic() < deadline:
    time.sleep(0.05)
    job = json.load(urllib.request.urlopen(urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/imports/{job['id']}", headers=auth)))
s = time.monotonic() - start
print(f"{backend + ' (server)':<19} {kind:<7} {n / s:8.0f} rows/s  ({s:.1f} s: {job['state']}, {job['ok']} ok, {job['failed']} failed)")
PY2
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

SECRETS=${SECRETS:-1}
# BACKENDS and STEPS choose a part of the run (a 100,000-row secrets run hashes for more than
# half an hour per backend): BACKENDS="sqlite" STEPS="secrets" bash bench/import.sh.
BACKENDS=${BACKENDS:-sqlite postgresql}
STEPS=${STEPS:-run secrets server}
[ "$SECRETS" = 1 ] || STEPS=${STEPS/secrets/}
step() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
if [[ " $BACKENDS " == *" sqlite "* ]]; then
  if step run; then run sqlite "sqlite:$dir/import.db"; fi
  if step secrets; then secrets sqlite "sqlite:$dir/secrets.db"; fi
  if step server; then server sqlite "sqlite:$dir/server.db"; fi
fi
host=${PG#*@}; host=${host%%/*}
if [[ " $BACKENDS " != *" postgresql "* ]]; then
  :
elif (exec 3<>"/dev/tcp/${host%%:*}/${host##*:}") 2>/dev/null; then
  db="dialtone_bench_import_$$"
  for s in run secrets server; do
    step "$s" || continue
    psql "$PG" -qc "CREATE DATABASE $db" >/dev/null
    "$s" postgresql "${PG%/*}/$db"
    psql "$PG" -qc "DROP DATABASE $db" >/dev/null
  done
else
  echo "PostgreSQL is not reachable at $host: its half is skipped" >&2
fi
