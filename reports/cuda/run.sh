#!/usr/bin/env bash
# The CUDA configurations of torch.optim.RAdam, Adam and AdamW, verified on one GPU in at most
# 8 minutes: RAdam's for-loop, foreach and capturable paths in float32 and in bfloat16, its
# for-loop and foreach paths in float64; Adam's and AdamW's foreach, fused and capturable
# paths in float32; each with the quick profile (which draws tensors of every
# shape up to 4,097 elements and strided views), and RAdam's for-loop and foreach paths in
# float32 once more with the ci profile (tensors up to about 10^6 elements). Each verdict
# (verdict.json and its renderings) goes under reports/cuda/<configuration>/, its log beside it.
#
#   reports/cuda/run.sh     # PYTHON=... chooses the interpreter (default python3);
#                           # JOBS=... how many configurations run at once
#
# Every configuration is its own process (a verdict runs in two: pytest and one worker) with
# its own time limit: QUICK_S for a quick verdict, CI_S for a ci one. JOBS defaults to half the
# cores, at most 13, so the runs share the one GPU; they end within
# (14 * QUICK_S + 2 * CI_S) / JOBS + CI_S seconds: under 8 minutes with JOBS >= 6.
#
# Exit status: 0 when every run ended with a verdict (conforms or deviates: see each
# verdict), 1 when a run ended without one (an internal error, a usage error, or its time
# limit), 2 when nothing could be run (no CUDA device, or radam_verify not importable).
set -uo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
cores=$(nproc 2>/dev/null || echo 2)
JOBS="${JOBS:-$(( cores / 2 < 1 ? 1 : (cores / 2 > 13 ? 13 : cores / 2) ))}"
OUT_DIR="reports/cuda"
QUICK_S="${QUICK_S:-90}"  # a quick verdict: 30 s on 2 CPU cores, plus CUDA's start in two processes
CI_S="${CI_S:-180}"       # a ci verdict: 120 s on 2 CPU cores, plus the same

if ! "$PYTHON" -c "import radam_verify" 2>/dev/null; then
  echo "reports/cuda/run.sh: $PYTHON cannot import radam_verify; install it first (pip install -e '.[torch]')" >&2
  exit 2
fi
if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "reports/cuda/run.sh: no CUDA device is visible to $PYTHON (torch.cuda.is_available() is False); nothing was run" >&2
  exit 2
fi

NAMES=()
verify() {  # NAME PROFILE KWARGS [more arguments of radam-verify check]; SPEC: the optimizer
  local name=$1 profile=$2 kwargs=$3 limit=$QUICK_S
  shift 3
  [ "$profile" = ci ] && limit=$CI_S
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  NAMES+=("$name")
  echo "$limit" > "$OUT_DIR/$name.limit"
  (
    timeout "$limit" "$PYTHON" -m radam_verify.cli check "${SPEC:-torch.optim:RAdam}" --device cuda \
      --profile "$profile" --kwargs "$kwargs" --report "$OUT_DIR/$name" "$@" > "$OUT_DIR/$name.log" 2>&1
    echo $? > "$OUT_DIR/$name.exit"
  ) &
}

mkdir -p "$OUT_DIR"
started=$SECONDS
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'on', torch.cuda.get_device_name(0))"
verify for-loop-float32 quick '{"foreach": false}'
verify foreach-float32 quick '{"foreach": true}'
verify capturable-float32 quick '{"capturable": true}'
verify for-loop-float64 quick '{"foreach": false}' --dtype float64
verify foreach-float64 quick '{"foreach": true}' --dtype float64
verify for-loop-bfloat16 quick '{"foreach": false}' --dtype bfloat16
verify foreach-bfloat16 quick '{"foreach": true}' --dtype bfloat16
verify for-loop-float32-ci ci '{"foreach": false}'
verify foreach-float32-ci ci '{"foreach": true}'
SPEC=torch.optim:Adam verify adam-foreach-float32 quick '{"foreach": true}'
SPEC=torch.optim:Adam verify adam-fused-float32 quick '{"fused": true}'
SPEC=torch.optim:Adam verify adam-capturable-float32 quick '{"capturable": true}'
SPEC=torch.optim:AdamW verify adamw-fused-float32 quick '{"fused": true}'
SPEC=torch.optim:AdamW verify adamw-foreach-float32 quick '{"foreach": true}'
SPEC=torch.optim:AdamW verify adamw-capturable-float32 quick '{"capturable": true}'
verify capturable-bfloat16 quick '{"capturable": true}' --dtype bfloat16
wait

status=0
{
for name in "${NAMES[@]}"; do
  code=$(cat "$OUT_DIR/$name.exit" 2>/dev/null || echo missing)
  limit=$(cat "$OUT_DIR/$name.limit")
  rm -f "$OUT_DIR/$name.exit" "$OUT_DIR/$name.limit"
  case $code in
    0) echo "$name: conforms" ;;
    1) echo "$name: deviates (see $OUT_DIR/$name/verdict.md)" ;;
    124) echo "$name: no verdict within ${limit} s (see $OUT_DIR/$name.log)"; status=1 ;;
    *) echo "$name: no verdict, exit $code (see $OUT_DIR/$name.log)"; status=1 ;;
  esac
done
echo "${#NAMES[@]} configurations, $JOBS at a time, in $(( SECONDS - started )) s"
exit $status
} | tee "$OUT_DIR/summary.txt"
exit "${PIPESTATUS[0]}"
