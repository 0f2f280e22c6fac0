#!/usr/bin/env bash
# The CUDA configurations of torch.optim.RAdam, Adam and AdamW, verified on one GPU in at most
# 8 minutes: RAdam's for-loop, foreach and capturable paths in float32, its for-loop and
# foreach paths in float64 and in bfloat16; Adam's foreach, fused and capturable paths and
# AdamW's fused path in float32; each with the quick profile (which draws tensors of every
# shape up to 4,097 elements and strided views), each verdict (verdict.json and its
# renderings) under reports/cuda/<configuration>/ and its log beside it.
#
#   reports/cuda/run.sh            # PYTHON=... to choose the interpreter (default python3)
#
# Exit status: 0 when every run ended with a verdict (conforms or deviates: see each
# verdict), 1 when a run ended without one (an internal error, a usage error, or its time
# limit), 2 when nothing could be run (no CUDA device, or radam_verify not importable).
set -uo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
OUT_DIR="reports/cuda"
PER_RUN_S=42  # eleven runs: 7.7 minutes at most

if ! "$PYTHON" -c "import radam_verify" 2>/dev/null; then
  echo "reports/cuda/run.sh: $PYTHON cannot import radam_verify; install it first (pip install -e '.[torch]')" >&2
  exit 2
fi
if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "reports/cuda/run.sh: no CUDA device is visible to $PYTHON (torch.cuda.is_available() is False); nothing was run" >&2
  exit 2
fi

status=0
verify() {  # NAME KWARGS [more arguments of radam-verify check]; SPEC: the optimizer
  local name=$1 kwargs=$2
  shift 2
  timeout "$PER_RUN_S" "$PYTHON" -m radam_verify.cli check "${SPEC:-torch.optim:RAdam}" --device cuda \
    --profile quick --kwargs "$kwargs" --report "$OUT_DIR/$name" "$@" > "$OUT_DIR/$name.log" 2>&1
  local code=$?
  case $code in
    0) echo "$name: conforms" ;;
    1) echo "$name: deviates (see $OUT_DIR/$name/verdict.md)" ;;
    124) echo "$name: no verdict within ${PER_RUN_S} s (see $OUT_DIR/$name.log)"; status=1 ;;
    *) echo "$name: no verdict, exit $code (see $OUT_DIR/$name.log)"; status=1 ;;
  esac
}

mkdir -p "$OUT_DIR"
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'on', torch.cuda.get_device_name(0))"
verify for-loop-float32 '{"foreach": false}'
verify foreach-float32 '{"foreach": true}'
verify capturable-float32 '{"capturable": true}'
verify for-loop-float64 '{"foreach": false}' --dtype float64
verify foreach-float64 '{"foreach": true}' --dtype float64
verify for-loop-bfloat16 '{"foreach": false}' --dtype bfloat16
verify foreach-bfloat16 '{"foreach": true}' --dtype bfloat16
SPEC=torch.optim:Adam verify adam-foreach-float32 '{"foreach": true}'
SPEC=torch.optim:Adam verify adam-fused-float32 '{"fused": true}'
SPEC=torch.optim:Adam verify adam-capturable-float32 '{"capturable": true}'
SPEC=torch.optim:AdamW verify adamw-fused-float32 '{"fused": true}'
exit $status
