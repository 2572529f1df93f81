#!/usr/bin/env bash
# TFTP side by side with tftpd-hpa, in one run on one machine: 4 KB and 64 KB files, with the
# default 512-byte blocks and with blksize 1428 + windowsize 16, CLIENTS clients for SECS seconds
# each. Needs tftpd-hpa (apt-get install tftpd-hpa).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}; CLIENTS=${CLIENTS:-16}
command -v in.tftpd >/dev/null || { echo "needs tftpd-hpa: apt-get install tftpd-hpa" >&2; exit 1; }
cargo build --release -q -p dialtone-bench
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
mkdir -p "$dir/files"
head -c 4096 /dev/urandom >"$dir/files/4k.bin"
head -c 65536 /dev/urandom >"$dir/files/64k.bin"
chmod 755 "$dir" "$dir/files"; chmod 644 "$dir/files/"*
echo "# $(nproc) cores, $(uname -r), $(date -u +%F), $CLIENTS clients, ${SECS}s per run" >&2
target/release/tftp-load serve --dir "$dir/files" --seconds 900 >"$dir/ready" &
pids+=($!)
in.tftpd -L -u nobody -a 127.0.0.1:18069 -s "$dir/files" &
pids+=($!)
for _ in $(seq 1 30); do grep -q READY "$dir/ready" 2>/dev/null && break; sleep 0.2; done
dialtone=$(sed -n 's/^READY //p' "$dir/ready")
for file in 4k.bin 64k.bin; do
  for opts in "" "--blksize 1428 --windowsize 16"; do
    for server in "tftpd-hpa 127.0.0.1:18069" "dialtone $dialtone"; do
      set -- $server
      printf '{"server": "%s", "result": ' "$1"
      # shellcheck disable=SC2086
      target/release/tftp-load load --server "$2" --file "$file" --clients "$CLIENTS" --seconds "$SECS" $opts
      printf '}\n'
    done
  done
done
