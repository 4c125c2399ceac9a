"""The "Performance" figures, from `python -m cbce bench --json`.

    python docs/scripts/perf_plots.py [--json bench.json] [--out docs/figures]

Without --json, runs `python -m cbce bench --json` (a few minutes) and keeps its output as
bench.json in the output folder.  Also measures this machine's copy bandwidth (NumPy, one
thread) for the roofline.  Writes perf_forward.png, perf_forward_backward.png,
perf_roofline.png, speed_table.md (the README's table) and roofline.md.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLORS = {"cbce": "black", "numpy": "tab:blue", "torch": "tab:red", "sklearn": "tab:orange",
          "jax": "tab:green"}
NAMES = {"cbce": "cbce", "numpy": "NumPy", "torch": "PyTorch", "sklearn": "scikit-learn",
         "jax": "JAX"}
# minimal bytes of memory traffic per float32 element: read x and y; the fused call also
# writes the gradient (float64 doubles each)
BYTES = {"forward_s": 8, "forward_backward_s": 12}


def copy_bandwidth(nbytes=2**28, rounds=5):
    """Bytes per second moved by np.copyto on arrays far larger than the caches (one read
    and one write per byte, on one thread)."""
    a = np.ones(nbytes // 8)
    b = np.empty_like(a)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t0)
    return 2 * nbytes / best


def footer(env):
    v = ", ".join(f"{NAMES.get(k, k)} {val}" for k, val in env["versions"].items())
    return (f"{env['cpu']} ({env['machine']}, {env['cores']} cores), cbce SIMD {env['simd']}, "
            f"{env['date']}\n{v}")


def series(rows, dtype, threads, lib, key):
    pts = sorted((r["n"], r[key] / r["n"] * 1e9) for r in rows
                 if (r["dtype"], r["threads"], r["library"]) == (dtype, threads, lib))
    return np.array(pts).T if pts else None


def plot_times(doc, key, path, what):
    rows = doc["results"]
    libs = [lib for lib in NAMES if any(r["library"] == lib for r in rows)]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.4), sharex=True, constrained_layout=True)
    for i, dtype in enumerate(("float32", "float64")):
        for j, threads in enumerate((1, 2)):
            ax = axes[i, j]
            for lib in libs:
                s = series(rows, dtype, threads, lib, key)
                if s is not None:
                    ax.plot(s[0], s[1], "o-", color=COLORS[lib], label=NAMES[lib],
                            lw=2.2 if lib == "cbce" else 1.2, ms=4)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{dtype}, {threads} thread{'s' if threads > 1 else ''}")
            ax.set_xlabel("elements n")
            ax.set_ylabel("ns per element (lower is faster)")
            ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=9)
    fig.suptitle(f"BCE with logits, {what}: time per element (best of 5 rounds)\n"
                 + footer(doc["environment"])
                 + "\nNumPy runs on one thread and JAX on its own count whatever is asked",
                 fontsize=10)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_roofline(doc, bandwidth, path):
    rows = doc["results"]
    fig, ax = plt.subplots(figsize=(9, 5.6), constrained_layout=True)
    for key, style in (("forward_s", "--"), ("forward_backward_s", "-")):
        for threads, color in ((1, "black"), (2, "tab:purple")):
            s = series(rows, "float32", threads, "cbce", key)
            if s is None:
                continue
            label = (f"cbce float32 {'forward (mean)' if key == 'forward_s' else 'fused'}, "
                     f"{threads} thread{'s' if threads > 1 else ''}")
            ax.plot(s[0], 1 / s[1], style, marker="o", ms=3, color=color, label=label)
        ceiling = bandwidth / BYTES[key] / 1e9
        ax.axhline(ceiling, color="tab:red", ls=style, lw=1)
        ax.text(1.1e3, ceiling * 1.05, f"memory ceiling, 1 thread: {BYTES[key]} B/element "
                f"({ceiling:.1f} Gelem/s)", color="tab:red", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("elements n")
    ax.set_ylabel("Gelem/s (higher is faster)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("cbce float32 throughput against the memory ceiling "
                 f"(copy bandwidth {bandwidth / 1e9:.1f} GB/s, one thread)\n"
                 + footer(doc["environment"]), fontsize=9)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def speed_table(doc):
    """Markdown: ns/element of cbce and PyTorch (if measured), and each peer's time / cbce's,
    one thread, at 10^3, 10^6 and 10^7 elements."""
    rows = doc["results"]
    libs = [lib for lib in NAMES if lib != "cbce" and any(r["library"] == lib for r in rows)]
    out = ["| case | cbce ns/elem | " + " | ".join(f"{NAMES[lib]} / cbce" for lib in libs)
           + " |", "| --- | --- |" + " --- |" * len(libs)]
    by = {(r["dtype"], r["n"], r["threads"], r["library"]): r for r in rows}
    for dtype in ("float32", "float64"):
        for n in (10**3, 10**6, 10**7):
            for key, what in (("forward_s", "forward"), ("forward_backward_s", "fwd+bwd")):
                c = by.get((dtype, n, 1, "cbce"))
                if c is None:
                    continue
                ratios = [f"{by[(dtype, n, 1, lib)][key] / c[key]:.2f}"
                          if (dtype, n, 1, lib) in by else "" for lib in libs]
                out.append(f"| {dtype}, 10^{len(str(n)) - 1}, {what} | "
                           f"{c[key] / n * 1e9:.2f} | " + " | ".join(ratios) + " |")
    return ("Measured on " + footer(doc["environment"]).replace("\n", "; ") + ".\n\n"
            + "\n".join(out) + "\n")


def roofline_summary(doc, bandwidth):
    """Markdown: the measured ceilings and where cbce float32 stands against them."""
    rows = doc["results"]
    by = {(r["dtype"], r["n"], r["threads"], r["library"]): r for r in rows}
    nmax = max(r["n"] for r in rows)
    lines = [f"Measured in this run: copy bandwidth {bandwidth / 1e9:.1f} GB/s on one thread "
             "(NumPy `copyto` of 256 MiB, one read and one write per byte).", ""]
    for key, what in (("forward_s", "forward (mean)"), ("forward_backward_s", "fused")):
        ceiling = bandwidth / BYTES[key]
        best = max(r["n"] / r[key] for r in rows
                   if (r["dtype"], r["threads"], r["library"]) == ("float32", 1, "cbce"))
        parts = []
        for k in (1, 2):
            r = by.get(("float32", nmax, k, "cbce"))
            if r:
                rate = nmax / r[key]
                parts.append(f"{rate / 1e9:.2f} Gelem/s on {k} thread{'s' if k > 1 else ''} "
                             f"({100 * rate / ceiling:.0f}% of the one-thread ceiling)")
        lines.append(f"* float32 {what}: memory ceiling {ceiling / 1e9:.1f} Gelem/s "
                     f"({BYTES[key]} B/element); cbce's best rate on one thread "
                     f"{best / 1e9:.2f} Gelem/s; at n = {nmax:.0e}: " + ", ".join(parts) + ".")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "figures"))
    ap.add_argument("--json", help="a saved `python -m cbce bench --json` output")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    saved = os.path.join(args.out, "bench.json")
    if args.json:
        with open(args.json) as f:
            doc = json.load(f)
    else:
        r = subprocess.run([sys.executable, "-m", "cbce", "bench", "--json"], check=True,
                           stdout=subprocess.PIPE, text=True)   # progress on stderr
        doc = json.loads(r.stdout)
    if "copy_bandwidth" not in doc:
        doc["copy_bandwidth"] = copy_bandwidth()
    with open(saved, "w") as f:   # one result a line: small, and diffs read well
        rows = ",\n  ".join(json.dumps(r) for r in doc["results"])
        rest = {k: v for k, v in doc.items() if k != "results"}
        f.write(json.dumps(rest)[:-1] + ', "results": [\n  ' + rows + "\n]}\n")
    plot_times(doc, "forward_s", os.path.join(args.out, "perf_forward.png"),
               "forward (mean loss)")
    plot_times(doc, "forward_backward_s", os.path.join(args.out, "perf_forward_backward.png"),
               "forward + backward (cbce fused, peers autograd or equivalent)")
    plot_roofline(doc, doc["copy_bandwidth"], os.path.join(args.out, "perf_roofline.png"))
    with open(os.path.join(args.out, "speed_table.md"), "w") as f:
        f.write(speed_table(doc))
    with open(os.path.join(args.out, "roofline.md"), "w") as f:
        f.write(roofline_summary(doc, doc["copy_bandwidth"]))
    print("wrote perf_forward.png, perf_forward_backward.png, perf_roofline.png, "
          "speed_table.md, roofline.md to", args.out)


if __name__ == "__main__":
    main()
