"""Regenerate every figure and generated table of the documentation, and the README's speed
table, from one run on this machine:

    python docs/scripts/make_figures.py [--bench-json FILE]

accuracy_plots.py (about a minute) then perf_plots.py (runs `python -m cbce bench --json`,
several minutes, unless --bench-json gives a saved run).  Outputs go to docs/figures/.
"""
import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import accuracy_plots  # noqa: E402
import perf_plots  # noqa: E402

FIGURES = os.path.join(HERE, "..", "figures")
README = os.path.join(HERE, "..", "..", "README.md")
BEGIN, END = "<!-- speed table: docs/scripts/make_figures.py -->", "<!-- end speed table -->"


def update_readme(table):
    """Put the generated speed table between the README's markers."""
    with open(README) as f:
        text = f.read()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {BEGIN} ... {END} block")
    text = pattern.sub(lambda _: BEGIN + "\n\n" + table + "\n" + END, text)
    with open(README, "w") as f:
        f.write(text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-json", help="a saved `python -m cbce bench --json` output")
    args = ap.parse_args(argv)
    accuracy_plots.main(["--out", FIGURES])
    perf_plots.main(["--out", FIGURES] + (["--json", args.bench_json] if args.bench_json
                                          else []))
    with open(os.path.join(FIGURES, "speed_table.md")) as f:
        update_readme(f.read())
    print("README.md speed table updated")


if __name__ == "__main__":
    main()
