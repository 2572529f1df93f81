#!/usr/bin/env bash
# How fast a change becomes NOTIFYs among PHONES phones (7960 and 8861 in turn, two lines each,
# one shared with the next phone), on `dialtone serve --sip` (release build, SQLite):
#   1. the baseline scan at start (every phone rendered once);
#   2. one line's alerting name changed: the time from the API's answer to the log line saying
#      its phones' NOTIFYs are queued, and how many phones were rendered;
#   3. a Resync Periodic set for model 8861: how many phones were rendered (only the 8861s)
#      and how long it took.
# The phones have never made a request, so no NOTIFY is sent (no address); queueing is what is
# timed. Usage: PHONES=100000 bash bench/resync.sh (DB=FILE reuses a database `phone-files`
# seeded, copied, with DIALTONE_SECRET_KEY its key).
set -euo pipefail
cd "$(dirname "$0")/.."
PHONES=${PHONES:-100000}
cargo build --release -q -p dialtone -p dialtone-bench
export DIALTONE_SECRET_KEY=${DIALTONE_SECRET_KEY:-$(head -c 32 /dev/urandom | base64)}
export DIALTONE_ADMIN_PASSWORD=bench-password
dir=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
echo "# $(nproc) cores, $(uname -r), $(date -u +%F), commit $(git rev-parse --short HEAD), $PHONES phones" >&2
if [ -n "${DB:-}" ]; then cp "$DB" "$dir/r.db"
else target/release/phone-files --db "sqlite:$dir/r.db" --phones "$PHONES" --export "$dir/www" --seconds 0 >/dev/null 2>&1; fi
rm -rf "$dir/www"
RUST_LOG=dialtone_provision=info,warn target/release/dialtone --db "sqlite:$dir/r.db" serve \
  --admin 127.0.0.1:18181 --http 127.0.0.1:16971 --sip 127.0.0.1:0 >"$dir/log" 2>&1 &
server=$!
A=(-s -u admin:bench-password); D=http://127.0.0.1:18181/api/v1
for _ in $(seq 1 100); do target/release/dialtone healthcheck --admin 127.0.0.1:18181 >/dev/null 2>&1 && break; sleep 0.1; done
start=$(date +%s.%N)
for _ in $(seq 1 600); do grep -q "every phone's files rendered" "$dir/log" && break; sleep 0.2; done
echo "{\"step\": \"baseline scan\", \"after_s\": $(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN {printf "%.1f", a - b}'), \"log\": \"$(grep -m1 "every phone's files rendered" "$dir/log" | sed 's/\x1b\[[0-9;]*m//g; s/"/\\"/g')\"}"
wait_line() { # wait_line N: the Nth "a change reached" line
  for _ in $(seq 1 300); do [ "$(grep -c 'a change reached' "$dir/log")" -ge "$1" ] && break; sleep 0.05; done
}
line_time() { # the timestamp of the Nth "a change reached" line, in seconds since the epoch
  grep 'a change reached' "$dir/log" | sed -n "${1}p" | awk '{print $1}' | sed 's/\x1b\[[0-9;]*m//g' | xargs -I{} date -d {} +%s.%N
}
# 2. One line.
v=$(curl "${A[@]}" "$D/lines/100000" | sed 's/.*"version":\([0-9]*\).*/\1/')
curl "${A[@]}" -o /dev/null -X PATCH "$D/lines/100000" -H 'content-type: application/json' -d "{\"version\":$v,\"alerting_name\":\"Changed\"}"
committed=$(date +%s.%N)
wait_line 1
queued=$(line_time 1)
echo "{\"step\": \"one line\", \"queued_after_s\": $(awk -v a="$queued" -v b="$committed" 'BEGIN {printf "%.3f", a - b}'), \"log\": \"$(grep 'a change reached' "$dir/log" | sed -n 1p | sed 's/\x1b\[[0-9;]*m//g; s/"/\\"/g')\"}"
# 3. One model's parameters.
curl "${A[@]}" -o /dev/null -X PUT "$D/parameters/model?target=8861" -H 'content-type: application/json' -d '{"values":{"resync_periodic":"7200"}}'
committed=$(date +%s.%N)
wait_line 2
queued=$(line_time 2)
echo "{\"step\": \"model 8861 parameters\", \"queued_after_s\": $(awk -v a="$queued" -v b="$committed" 'BEGIN {printf "%.3f", a - b}'), \"log\": \"$(grep 'a change reached' "$dir/log" | sed -n 2p | sed 's/\x1b\[[0-9;]*m//g; s/"/\\"/g')\"}"
if hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server/status" 2>/dev/null); then
  echo "{\"server_peak_rss_mb\": $((hwm / 1024))}"
fi
