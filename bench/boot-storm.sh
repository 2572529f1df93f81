#!/usr/bin/env bash
# Boot storm, side by side in one run: N phones (7960 and 8861 in turn) with Resync Random Delay 0
# boot at once, played by the `fleet` simulator (each phone from its own loopback address),
# against, in turn:
#   - the peer serving the exact bytes Dialtone renders as static files (nginx over HTTP,
#     tftpd-hpa over TFTP);
#   - a fresh `dialtone serve` (release build, SQLite): its render cache is cold;
#   - the same server again: warm.
# The 8861s start from their own file (`$MA.xml`, as DHCP option 160 would give it); the 7960s
# ask for their trust list `CTLSEP<MAC>.tlv` first, which no server has: 1.5 requests a phone on
# every server. Reports per run: the time until the last phone held its file,
# failures, latency as the phones saw it (p50/p99), and Dialtone's memory (peak VmHWM, peak
# anonymous memory, and the proportional set size at the end, the database file counted once); each
# Dialtone run ends with every phone's bytes compared with the server's preview (--admin).
# While each Dialtone run goes, an administrator lists 20 phones through the REST API every 0.2 s
# (with a token): its p50, p99 and max say how the admin API fares during the storm; the
# requests the server turned away for overload (`outcome="shed"`) are counted too.
# Usage: SIZES="10000 100000" PROTOS="http tftp" CONCURRENCY=512 bash bench/boot-storm.sh
# Needs nginx and tftpd-hpa (apt-get install nginx-light tftpd-hpa).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"10000 100000"}; PROTOS=${PROTOS:-"http tftp"}; CONCURRENCY=${CONCURRENCY:-512}
for t in nginx in.tftpd; do command -v $t >/dev/null || { echo "needs $t: apt-get install nginx-light tftpd-hpa" >&2; exit 1; }; done
cargo build --release -q -p dialtone -p dialtone-fleet -p dialtone-bench
export DIALTONE_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
export DIALTONE_ADMIN_PASSWORD=bench-password FLEET_ADMIN_PASSWORD=bench-password
dir=$(mktemp -d)
chmod 755 "$dir"  # nginx workers and tftpd run as another user
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
echo "# $(nproc) cores, $(uname -r), $(date -u +%F), commit $(git rev-parse --short HEAD), fleet concurrency $CONCURRENCY" >&2
# The peers listen where Dialtone will (one after the other), so the files' rules hold for both.
HTTP=127.0.0.1:16970 TFTP=127.0.0.1:16969

fleet() { # fleet PROTO BASE [extra args]: prints the fleet's JSON
  local proto=$1 base=$2; shift 2
  local from
  if [ "$proto" = http ]; then from=(--http "http://$base" --profile-rule "http://$base/\$MA.xml")
  else from=(--tftp "$base" --profile-rule "tftp://$base/\$MA.xml"); fi
  timeout 1800 target/release/fleet --phones "$n" --model 7960,8861 --mac-prefix 0A --mac-start 0 \
    "${from[@]}" --sip-port 0 --concurrency "$CONCURRENCY" "$@" || true
}

# admin_probe TOKEN: times GET /api/v1/phones?limit=20 every 0.2 s until $dir/probe.stop exists.
admin_probe() {
  rm -f "$dir/probe.times"
  while [ ! -e "$dir/probe.stop" ]; do
    curl -s -o /dev/null -w '%{time_total}\n' -H "authorization: Bearer $1" \
      'http://127.0.0.1:18180/api/v1/phones?limit=20' >>"$dir/probe.times" || true
    sleep 0.2
  done
}
# admin_figures: the probe's count, p50, p99 and max in milliseconds, as JSON fields.
admin_figures() {
  sort -n "$dir/probe.times" | awk '{t[NR]=$1*1000} END {
    p50=t[int((NR-1)*0.50)+1]; p99=t[int((NR-1)*0.99)+1];
    printf "\"admin_requests\": %d, \"admin_p50_ms\": %.1f, \"admin_p99_ms\": %.1f, \"admin_max_ms\": %.1f", NR, p50, p99, t[NR] }'
}

for n in $SIZES; do
  rm -rf "$dir"/storm.db* "$dir"/www-*
  # The peers get the bytes Dialtone gives phones that reach it where the peers will listen.
  target/release/phone-files --db "sqlite:$dir/storm.db" --phones "$n" --seconds 0 \
    --export "$dir/www-http" --base "http://$HTTP" --export-tftp "$dir/www-tftp" --tftp-base "tftp://$TFTP" \
    >/dev/null 2>"$dir/seed.log"
  chmod -R a+rX "$dir"/www-*
  for proto in $PROTOS; do
    # The peer, with the same bytes as static files.
    if [ "$proto" = http ]; then
      cat >"$dir/nginx.conf" <<CONF
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/nginx.err;
daemon off;
events { worker_connections 4096; }
http { access_log off; sendfile on; default_type text/xml; server { listen $HTTP; root $dir/www-http; } }
CONF
      nginx -c "$dir/nginx.conf" -p "$dir" & peer=$!; peer_addr=$HTTP; peer_name=nginx
    else
      in.tftpd -L -u nobody -a "$TFTP" -s "$dir/www-tftp" & peer=$!; peer_addr=$TFTP; peer_name=tftpd-hpa
    fi
    pids+=("$peer"); sleep 1
    echo "{\"phones\": $n, \"over\": \"$proto\", \"server\": \"$peer_name\", \"fleet\": $(fleet "$proto" "$peer_addr")}"
    kill "$peer" 2>/dev/null || true; wait "$peer" 2>/dev/null || true
    # Dialtone, cold then warm.
    target/release/dialtone --db "sqlite:$dir/storm.db" serve --admin 127.0.0.1:18180 --http "$HTTP" \
      --tftp "$TFTP" >"$dir/server.log" 2>&1 &
    server=$!; pids+=("$server")
    for _ in $(seq 1 100); do target/release/dialtone healthcheck --admin 127.0.0.1:18180 >/dev/null 2>&1 && break; sleep 0.1; done
    base=$HTTP; [ "$proto" = tftp ] && base=$TFTP
    # The server's own memory (anonymous pages), sampled every 0.2 s: VmHWM also counts the
    # database file's pages once per SQLite connection that maps them (four), though they are
    # one copy in the page cache.
    ( peak=0; while kill -0 "$server" 2>/dev/null; do
        a=$(awk '/RssAnon/ {print $2}' "/proc/$server/status" 2>/dev/null || echo 0)
        [ "${a:-0}" -gt "$peak" ] && peak=$a && echo "$peak" >"$dir/anon.peak"; sleep 0.2; done ) &
    pids+=($!)
    token=$(curl -s -u admin:bench-password -H 'content-type: application/json' -d '{"name": "storm"}' \
      http://127.0.0.1:18180/api/v1/tokens | sed 's/.*"token":"\([^"]*\)".*/\1/')
    for cache in cold warm; do
      rm -f "$dir/probe.stop"; admin_probe "$token" & probe=$!; pids+=("$probe")
      result=$(fleet "$proto" "$base" --admin http://127.0.0.1:18180)
      touch "$dir/probe.stop"; wait "$probe" 2>/dev/null || true
      shed=$(curl -s -H "authorization: Bearer $token" http://127.0.0.1:18180/metrics \
        | awk '/^dialtone_phone_requests_total.*outcome="shed"/ {s += $2} END {print s + 0}')
      if ! hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server/status" 2>/dev/null); then
        echo "the server is gone; its log:" >&2; tail -20 "$dir/server.log" >&2; exit 1
      fi
      pss=$(awk '/^Pss:/ {print $2}' "/proc/$server/smaps_rollup")
      echo "{\"phones\": $n, \"over\": \"$proto\", \"server\": \"dialtone $cache\", \"server_peak_rss_mb\": $((hwm / 1024)), \"server_peak_anon_mb\": $(( $(cat "$dir/anon.peak") / 1024 )), \"server_pss_mb\": $((pss / 1024)), $(admin_figures), \"shed\": $shed, \"fleet\": $result}"
    done
    kill "$server"; wait "$server" 2>/dev/null || true
  done
done
