#!/usr/bin/env bash
# The prepared GPU run for issue #5, in one call on a lent GPU machine (no Node.js, no network there).
#
# Here, after `npm ci` (which builds dist/ and native/build/):
#   EXTRA="dist native/build" bash ../shared/gpu/bundle.sh
# Then, through the device tool, carrying .gpu:
#   bash bench/gpu/run.sh
# It leaves in $OUT (default ./gpu-results): device.txt, verify.jsonl/.log (the webgpu kernels and a
# full training step at patch 64x128x128, features 32-320, against the cpu backend), bench.jsonl/.log
# (the GPU suite against PyTorch CUDA fp32, TF32 off) and a summary. Each part has its own time limit
# so a slow part still leaves the others' results.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
: > "$OUT/summary.txt"
# shellcheck disable=SC1091
source .gpu/setup.sh > "$OUT/setup.log" 2>&1
if ! command -v node >/dev/null || [ ! -f dist/cli/main.js ]; then
  echo "setup failed: no node or no dist/ (bundle with EXTRA=\"dist native/build\")" | tee -a "$OUT/summary.txt"
  cat "$OUT/setup.log"
  exit 1
fi
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  node --version
  nproc
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1
} > "$OUT/device.txt"
cat "$OUT/device.txt"
export MTC_PYTHON
MTC_PYTHON=$(command -v python3)

part() { # name, seconds, command...
  local name=$1 secs=$2
  shift 2
  echo "== $name"
  timeout "$secs" "$@" > "$OUT/$name.jsonl" 2> "$OUT/$name.log"
  echo "$name: exit $?" | tee -a "$OUT/summary.txt"
  tail -n 3 "$OUT/$name.log"
}

part verify "${VERIFY_S:-200}" node bin/mtc.js bench verify --backend webgpu --large \
  --step-patch "${STEP_PATCH:-64,128,128}" --step-features "${STEP_FEATURES:-32,64,128,256,320,320}" --json
part bench "${BENCH_S:-300}" node bin/mtc.js bench suite --backend webgpu --compare --rounds "${ROUNDS:-1}" --repeats 5 --json
node -e '
  const fs = require("fs");
  const out = process.argv[1];
  const rows = (f) => fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)) : [];
  const lines = [];
  for (const v of rows(out + "/verify.jsonl")) lines.push(`${v.ok ? "ok  " : "FAIL"} ${v.name} error ${v.error}`);
  for (const b of rows(out + "/bench.jsonl")) lines.push(`${b.backend}  ${b.name}  ${b.ms.toFixed(2)} ms${b.ratio_to_pytorch ? "  " + b.ratio_to_pytorch.toFixed(2) + "x PyTorch" : ""}`);
  fs.appendFileSync(out + "/summary.txt", lines.join("\n") + "\n");
' "$OUT"
cat "$OUT/summary.txt"
