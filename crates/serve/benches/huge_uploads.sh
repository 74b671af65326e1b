#!/bin/bash
# The real `mnist serve` under issue #19's upload: 16 POSTs at once of a ~78 KB PNG that decodes
# to 6,300 x 6,300 pixels (a black 7 on white), the server process's peak RSS (VmHWM), whether it
# answers afterwards; then /compare?runs=A,B the first time and 10 times again; then SIGTERM and
# whether its scratch folder is gone. Bounded: 17 uploads, 11 comparisons, every curl timed out.
#
#   bash crates/serve/benches/huge_uploads.sh MNIST_BINARY ARTIFACTS_DIR [RUN_A RUN_B]
# e.g. bash crates/serve/benches/huge_uploads.sh target/release/mnist artifacts linear-scratch mlp
set -eu
BIN=$1; ARTIFACTS=$2; A=${3:-linear-scratch}; B=${4:-mlp}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
python3 - "$WORK/huge.png" <<'PY'
import struct, sys, zlib
W = H = 6300
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
z, rows = zlib.compressobj(9), []
for y in range(H):
    row = bytearray(b"\xff" * W)
    if 1000 <= y < 1600: row[1500:4800] = b"\x00" * 3300
    if 1600 <= y < 5600:
        x = 4800 - int((y - 1600) * 0.55); row[x - 600:x] = b"\x00" * 600
    rows.append(z.compress(b"\x00" + bytes(row)))
rows.append(z.flush())
ihdr = struct.pack(">IIBBBBB", W, H, 8, 0, 0, 0, 0)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(rows)) + chunk(b"IEND", b""))
PY
mkdir "$WORK/tmp"
TMPDIR="$WORK/tmp" "$BIN" serve --artifacts "$ARTIFACTS" --addr 127.0.0.1:0 > "$WORK/serve.out" &
PID=$!
for _ in $(seq 100); do grep -q http "$WORK/serve.out" && break; sleep 0.2; done
ADDR=$(grep -o 'http://[0-9.:]*' "$WORK/serve.out")
up() { curl -s -m 120 -o "$1" -w "%{http_code} " --data-binary @"$WORK/huge.png" -H 'Content-Type: image/png' "$ADDR/api/runs/$B/predict"; }
echo "PNG: $(stat -c %s "$WORK/huge.png") bytes; warm-up: $(up /dev/null)"
echo "after warm-up: $(grep VmHWM /proc/$PID/status)"
START=$(date +%s%N); CURLS=()
for i in $(seq 16); do up "$WORK/a$i.json" & CURLS+=($!); done
wait "${CURLS[@]}"; echo
echo "16 uploads in $(( ($(date +%s%N) - START) / 1000000 )) ms; peak: $(grep VmHWM /proc/$PID/status)"
echo "first answer: $(head -c 40 "$WORK/a1.json")...; afterwards: $(up /dev/null)"
for _ in $(seq 11); do curl -s -m 60 -o /dev/null -w "compare $A,$B: %{http_code} %{time_total} s\n" "$ADDR/compare?runs=$A,$B"; done
echo "scratch: $(du -sh "$WORK"/tmp/* | cut -f1)"
kill -TERM $PID; wait $PID && echo "SIGTERM: exit 0"
echo "left in TMPDIR: $(ls "$WORK/tmp" | wc -l)"
