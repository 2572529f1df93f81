#!/usr/bin/env bash
# Boot storm: N phones (7960 and 8861 in turn) with Resync Random Delay 0 boot at once against
# `dialtone serve` (release build, SQLite), over HTTP and then over TFTP, played by the `fleet`
# simulator, each phone from its own loopback address. Reports, per run: the time until the
# last phone held its file, failures, request latency as the phones saw it (p50/p99), and the
# server's peak memory (VmHWM). Every phone's file is then compared with the server's preview.
# Usage: SIZES="10000 100000" CONCURRENCY=512 bash bench/boot-storm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"10000 100000"}; PROTOS=${PROTOS:-"http tftp"}; CONCURRENCY=${CONCURRENCY:-512}
cargo build --release -q -p dialtone -p dialtone-fleet -p dialtone-bench
export DIALTONE_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
export DIALTONE_ADMIN_PASSWORD=bench-password FLEET_ADMIN_PASSWORD=bench-password
dir=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
echo "# $(nproc) cores, $(uname -r), $(date -u +%F), fleet concurrency $CONCURRENCY" >&2
for n in $SIZES; do
  rm -f "$dir"/storm.db*
  target/release/phone-files --db "sqlite:$dir/storm.db" --phones "$n" --export "$dir/www-$n" --seconds 0 >/dev/null
  rm -rf "$dir/www-$n"
  for proto in $PROTOS; do
    target/release/dialtone --db "sqlite:$dir/storm.db" serve --admin 127.0.0.1:18180 --http 127.0.0.1:16970 \
      --tftp 127.0.0.1:16969 >"$dir/server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do target/release/dialtone healthcheck --admin 127.0.0.1:18180 >/dev/null 2>&1 && break; sleep 0.1; done
    # Over TFTP the MPP phones start from DHCP option 160 = tftp://server/$MA.xml: a TFTP
    # request for $PSN.xml cannot say which phone asks (see docs/phones.md).
    if [ "$proto" = http ]; then from=(--http http://127.0.0.1:16970)
    else from=(--tftp 127.0.0.1:16969 --profile-rule 'tftp://127.0.0.1:16969/$MA.xml'); fi
    result=$(timeout 1800 target/release/fleet --phones "$n" --model 7960,8861 --mac-prefix 0A --mac-start 0 \
      "${from[@]}" --admin http://127.0.0.1:18180 --sip-port 0 --concurrency "$CONCURRENCY" || true)
    if ! hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server/status" 2>/dev/null); then
      echo "the server is gone; its log:" >&2; tail -20 "$dir/server.log" >&2; exit 1
    fi
    kill "$server"; wait "$server" 2>/dev/null || true; server=""
    echo "{\"phones\": $n, \"over\": \"$proto\", \"server_peak_rss_mb\": $((hwm / 1024)), \"fleet\": $result}"
  done
done
