#!/usr/bin/env bash
# Phone files over HTTP, side by side with nginx serving the same bytes as static files, in one
# run on one machine: PHONES distinct devices (default 10,000), wrk with CONNS connections for
# SECS seconds against each, random files. Needs nginx and wrk (apt-get install nginx-light wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
PHONES=${PHONES:-10000}; SECS=${SECS:-10}; CONNS=${CONNS:-64}
for t in nginx wrk; do command -v $t >/dev/null || { echo "needs $t: apt-get install nginx-light wrk" >&2; exit 1; }; done
cargo build --release -q -p dialtone-bench
dir=$(mktemp -d)
chmod 755 "$dir"  # nginx workers run as another user
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
echo "# $(nproc) cores, $(uname -r), $(date -u +%F), $PHONES phones, wrk -t2 -c$CONNS -d${SECS}s" >&2
target/release/phone-files --db "sqlite:$dir/bench.db" --phones "$PHONES" --export "$dir/www" --seconds 900 >"$dir/ready" 2>"$dir/log" &
pids+=($!)
for _ in $(seq 1 600); do grep -q READY "$dir/ready" 2>/dev/null && break; sleep 1; done
grep -q READY "$dir/ready" || { cat "$dir/log" >&2; exit 1; }
cat "$dir/log" >&2
dialtone=$(sed -n 's/^READY //p' "$dir/ready")
cat >"$dir/nginx.conf" <<CONF
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/nginx.err;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  default_type text/xml;
  server { listen 127.0.0.1:18089; root $dir/www; }
  # The same with nginx's cache of open files (descriptors and sizes), its best case here.
  server { listen 127.0.0.1:18090; root $dir/www; open_file_cache max=20000 inactive=60s; open_file_cache_valid 60s; }
}
CONF
nginx -c "$dir/nginx.conf" -p "$dir" &
pids+=($!)
sleep 1
cat >"$dir/paths.lua" <<LUA
local paths = {}
for line in io.lines("$dir/www/paths.txt") do paths[#paths + 1] = line end
math.randomseed(42)
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
LUA
run() {
  wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$dir/paths.lua" "$2" >"$dir/$1.out"
  local rps p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$dir/$1.out")
  p99=$(awk '$1 == "99%" {print $2}' "$dir/$1.out")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$dir/$1.out")
  echo "{\"server\": \"$1\", \"requests_per_s\": $rps, \"p99\": \"$p99\", \"non_2xx\": ${non2xx:-0}}"
  echo "$rps" >"$dir/$1.rps"
}
run nginx "http://127.0.0.1:18089"
run nginx-open-file-cache "http://127.0.0.1:18090"
run dialtone "$dialtone"
ratio() { awk -v a="$(cat "$dir/dialtone.rps")" -v b="$(cat "$dir/$1.rps")" 'BEGIN {printf "%.2f", a / b}'; }
echo "{\"dialtone_over_nginx\": $(ratio nginx), \"dialtone_over_nginx_open_file_cache\": $(ratio nginx-open-file-cache)}"
