#!/usr/bin/env bash
# CI for the documentation: installs the docs requirements (and cbce from this tree unless
# CBCE_DOCS_INSTALL=0), builds the site with warnings as errors, runs every example (the
# doctests of the guide and of the API docstrings, and the README's quick start), then
# checks the built site in headless Chromium; screenshots go to docs/_build/screenshots/
# (CI artifacts, not committed).  About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
start=$(date +%s)
step() { echo; echo "=== docs: $* ($(( $(date +%s) - start ))s)"; }

step "requirements"
if ! command -v chromium >/dev/null 2>&1; then
    # Debian's package, installed without a prompt (as root, or through sudo)
    SUDO=; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold chromium >/dev/null
fi
# the integrations' doctests run against the real frameworks (already there after .ci/run)
python3 -m pip install -q -r docs/requirements.txt -r requirements-test.txt
if [ "${CBCE_DOCS_INSTALL:-1}" != 0 ]; then
    python3 -m pip install -q .
fi

step "README: under 200 lines, its examples give what it shows"
lines=$(wc -l < README.md)
echo "README.md: $lines lines"
[ "$lines" -lt 200 ] || { echo "docs: README.md has $lines lines (200 at most)"; exit 1; }
python3 -m pytest -q -p no:cacheprovider tests/test_readme.py

step "html, warnings as errors"
rm -rf docs/_build/html docs/_build/doctest
t0=$(date +%s)
python3 -m sphinx -W --keep-going -q -b html docs docs/_build/html
echo "docs: html built in $(( $(date +%s) - t0 ))s"

step "doctests of the guide and the API reference"
python3 -m sphinx -W --keep-going -q -b doctest docs docs/_build/doctest
tail -n 5 docs/_build/doctest/output.txt

step "the site in headless Chromium"
python3 docs/scripts/check_site.py --html docs/_build/html --shots docs/_build/screenshots
step "done"
