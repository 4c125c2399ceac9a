#!/usr/bin/env bash
# CI checks of the asv benchmark suite (called by .ci/run; ~3-6 minutes on 2 cores).
#   1. asv check: every benchmark imports and has valid parameters;
#   2. a quick run (each benchmark once) of the whole suite against the cbce installed in
#      this Python (the working tree, installed by .ci/run): a benchmark that raises fails
#      CI (asv exits 2).  Skips (NotImplementedError: PyTorch missing, a function an old
#      commit lacks) are fine;
#   3. the dashboard: asv publish of those results and tools/check_dashboard.py in headless
#      Chromium (pages load, graphs draw, no JS errors).
# Results and html go to a temporary folder: the developer's asv_bench/.asv is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}

if ! "$PY" -c "import asv, virtualenv" 2>/dev/null; then
    "$PY" -m pip install -q asv virtualenv
fi
# Headless Chromium and Debian's copies of the JS libraries asv's pages take from CDNs
# (tools/check_dashboard.py serves them locally: CI has no access to the CDNs).
DEBS="chromium libjs-jquery libjs-jquery-flot libjs-jquery-stupidtable node-blueimp-md5 libjs-bootstrap"
missing=""
for d in $DEBS; do dpkg -s "$d" >/dev/null 2>&1 || missing="$missing $d"; done
if [ -n "$missing" ]; then
    echo "--- apt-get install$missing"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    $SUDO apt-get update -q >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null
fi
"$PY" -c "import cbce" || { echo "asv.sh: cbce is not installed in $PY"; exit 1; }

WORK=$(mktemp -d /tmp/cbce-asv-ci.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# A copy of asv.conf.json with absolute paths and the results/html in $WORK.
"$PY" - "$ROOT" "$WORK" <<'PYEOF'
import json, os, sys
from asv import util
root, work = sys.argv[1:]
conf = util.load_json(os.path.join(root, "asv_bench", "asv.conf.json"), js_comments=True)
conf.update(repo=root, benchmark_dir=os.path.join(root, "asv_bench", "benchmarks"),
            env_dir=os.path.join(work, "env"), results_dir=os.path.join(work, "results"),
            html_dir=os.path.join(work, "html"), branches=["HEAD"])
with open(os.path.join(work, "asv.conf.json"), "w") as f:
    json.dump(conf, f, indent=2)
PYEOF
ASV=("$PY" -m asv --config "$WORK/asv.conf.json")
cd "$WORK"
"${ASV[@]}" machine --yes >/dev/null

echo "--- asv check"
"${ASV[@]}" check --python=same

echo "--- asv quick run of the whole suite (against the installed cbce)"
"$PY" -c "import cbce; print('cbce', cbce.__version__, 'from', cbce.__file__)"
status=0
"${ASV[@]}" run --python=same --quick --launch-method forkserver --show-stderr --durations 5 \
    --set-commit-hash "$(git -C "$ROOT" rev-parse HEAD)" > "$WORK/run.log" 2>&1 || status=$?
grep -E "failed|Traceback|Error" "$WORK/run.log" | grep -v "NotImplementedError" | head -40 || true
tail -12 "$WORK/run.log"
if [ "$status" != 0 ]; then
    echo "asv.sh: the quick run failed (exit $status): a benchmark is broken; full log:"
    cat "$WORK/run.log"
    exit 1
fi

echo "--- dashboard: asv publish + headless Chromium check"
"${ASV[@]}" publish >/dev/null
"$PY" "$ROOT/tools/check_dashboard.py" --no-publish --html-dir "$WORK/html" \
    --screenshot "$WORK/dashboard.png" --grid-screenshot "$WORK/dashboard-grid.png" \
    --accuracy-screenshot "$WORK/dashboard-accuracy.png"
echo "asv.sh: all asv checks passed"
