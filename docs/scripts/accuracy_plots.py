"""The "Why exact" figures: error in ulp of BCE with logits and of its gradient, for cbce and
every peer that imports (PyTorch, NumPy, scikit-learn, JAX/optax), against mpmath.

    python docs/scripts/accuracy_plots.py [--out docs/figures]

Writes accuracy_1e4.png (logits from -1e4 to 1e4), accuracy_whole_range.png (every
magnitude from the smallest subnormal to the largest finite value), accuracy_worst.csv (each
peer's worst input per dtype and quantity; the versions are printed on the figures).
Labels are hard (0 and 1); each point is the larger error of the two labels.
"""
import argparse
import os
import platform

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mpmath  # noqa: E402
import numpy as np  # noqa: E402

import cbce  # noqa: E402

mpmath.mp.prec = 256        # far beyond float64's 53 bits; every form below is cancellation-free
NAN_ULP = 1e18              # where NaN or inf results are drawn
FLOOR_ULP = 1e-2            # where exact results (0 ulp) are drawn on the log axis


# ---- peers: f(x, y) -> (loss per element, gradient per element), in x's dtype ----------

def peer_cbce(x, y):
    return (cbce.binary_cross_entropy_with_logits(x, y, reduction="none"),
            cbce.binary_cross_entropy_with_logits_backward(x, y, reduction="sum"))


def peer_numpy(x, y):
    # the usual NumPy formulation (log-sum-exp for the loss, the logistic for the gradient)
    with np.errstate(all="ignore"):
        return (np.logaddexp(0, -x) + (1 - y) * x,
                (1 / (1 + np.exp(-x)) - y).astype(x.dtype))


def make_torch():
    import torch
    import torch.nn.functional as F

    def peer_torch(x, y):
        tx = torch.from_numpy(x).requires_grad_(True)
        loss = F.binary_cross_entropy_with_logits(tx, torch.from_numpy(y), reduction="none")
        loss.sum().backward()
        return loss.detach().numpy(), tx.grad.numpy()
    return peer_torch, "PyTorch " + torch.__version__.split("+")[0]


def make_sklearn():
    import sklearn
    from sklearn._loss.loss import HalfBinomialLoss
    hb = HalfBinomialLoss()

    def peer_sklearn(x, y):
        with np.errstate(all="ignore"):
            loss, grad = hb.loss_gradient(y_true=y, raw_prediction=x)
        return loss, grad
    return peer_sklearn, "scikit-learn " + sklearn.__version__


def make_jax():
    import jax
    import optax
    jax.config.update("jax_enable_x64", True)
    f = jax.jit(jax.vmap(jax.value_and_grad(optax.sigmoid_binary_cross_entropy)))

    def peer_jax(x, y):
        loss, grad = f(x, y)
        return np.asarray(loss), np.asarray(grad)
    return peer_jax, "optax " + optax.__version__


def peers():
    """[(label, f)] for cbce, NumPy, and each optional peer that imports."""
    out = [("cbce " + cbce.__version__, peer_cbce), ("NumPy " + np.__version__, peer_numpy)]
    for make in (make_torch, make_sklearn, make_jax):
        try:
            f, label = make()
        except ImportError:
            continue
        out.append((label, f))
    return out


# ---- reference and ulp ------------------------------------------------------------------

def reference(x, y):
    """(loss, gradient) of BCE with logits at float x and label y in {0, 1}, from mpmath:
    loss = softplus(-x) for y = 1, softplus(x) for y = 0; gradient = -sigmoid(-x) or
    sigmoid(x)."""
    s = -1 if y == 1 else 1
    xs = mpmath.mpf(float(x)) * s
    if xs > 0:
        loss = xs + mpmath.log1p(mpmath.exp(-xs))
        sig = 1 / (1 + mpmath.exp(-xs))
    else:
        e = mpmath.exp(xs)
        loss = mpmath.log1p(e)
        sig = e / (1 + e)
    return loss, sig * s


def ulp_error(got, want, dtype):
    """|got - want| in units of the last place of `want` in `dtype` (subnormal spacing below
    the smallest normal); NAN_ULP for NaN/inf results."""
    if not np.isfinite(got):
        return NAN_ULP
    fi = np.finfo(dtype)
    if want == 0:
        return 0.0 if got == 0 else NAN_ULP
    e = max(int(mpmath.floor(mpmath.log(abs(want), 2))), int(np.log2(fi.smallest_normal)))
    # a value rounded past the largest finite float is as far as one more ulp
    ulp = mpmath.ldexp(1, e - fi.nmant)
    return float(abs(mpmath.mpf(float(got)) - want) / ulp)


def grids(dtype):
    """The two sets of logits (both signs): |x| in [1e-3, 1e4] ∪ {0}, and every magnitude."""
    fi = np.finfo(dtype)
    half = np.concatenate([[0.0], np.geomspace(1e-3, 1e4, 700)])
    near = np.unique(np.concatenate([-half, half])).astype(dtype)
    lo, hi = np.log10(float(fi.smallest_subnormal)), np.log10(float(fi.max))
    mags = np.unique(np.concatenate([np.power(10.0, np.linspace(lo, hi - 1e-9, 500)),
                                     [float(fi.max)]]))
    mags = mags[np.isfinite(mags.astype(dtype))].astype(dtype)
    mags = mags[mags > 0]
    whole = np.unique(np.concatenate([-mags, mags]))
    return near, whole


def nan_at_infinity(f, dtype):
    """How many of the 8 results (loss, gradient) at x = +-inf, y = 0, 1 are NaN (the limits
    are 0, +inf, 0 or -1/+1 as the case may be: never NaN)."""
    x = np.array([np.inf, np.inf, -np.inf, -np.inf], dtype=dtype)
    y = np.array([0, 1, 0, 1], dtype=dtype)
    with np.errstate(all="ignore"):
        loss, grad = f(x, y)
    return int(np.isnan(loss).sum() + np.isnan(grad).sum())


def measure(xs, dtype, plist):
    """{label: (loss ulp[x], grad ulp[x], worst (ulp, x, y, quantity) list)} (max over y)."""
    refs = {y: [reference(x, y) for x in xs] for y in (0, 1)}
    out = {}
    for label, f in plist:
        errs = np.zeros((2, len(xs)))
        worst = []
        for y in (0, 1):
            yy = np.full(xs.shape, y, dtype=dtype)
            loss, grad = f(xs.copy(), yy)
            for q, vals in enumerate((loss, grad)):
                for i, x in enumerate(xs):
                    e = ulp_error(vals[i], refs[y][i][q], dtype)
                    if e > errs[q, i]:
                        errs[q, i] = e
                    worst.append((e, float(x), y, ("loss", "gradient")[q], float(vals[i]),
                                  refs[y][i][q]))
        out[label] = (errs[0], errs[1], worst)
    return out


# ---- figures ----------------------------------------------------------------------------

STYLE = {"cbce": dict(color="black", lw=2.2, zorder=5), "NumPy": dict(color="tab:blue"),
         "PyTorch": dict(color="tab:red"), "scikit-learn": dict(color="tab:orange"),
         "optax": dict(color="tab:green")}


def signed_log(x, dtype):
    """Abscissa of the whole-range plot: sign(x) * (log10|x| - log10(smallest subnormal) + 1),
    so every magnitude gets its share and 0 sits in the middle."""
    base = np.log10(float(np.finfo(dtype).smallest_subnormal)) - 1
    with np.errstate(divide="ignore"):
        return np.sign(x) * np.where(x == 0, 0.0, np.log10(np.abs(x)) - base)


def whole_range_ticks(ax, dtype):
    decades = {np.float32: [-30, 0, 30], np.float64: [-200, 0, 200]}[dtype]
    pos = [signed_log(np.float64(10.0) ** k, dtype) for k in decades]
    ax.set_xticks([-p for p in pos[::-1]] + [0] + pos)
    ax.set_xticklabels([f"$-10^{{{k}}}$" for k in decades[::-1]] + ["0"]
                       + [f"$10^{{{k}}}$" for k in decades])


def plot(results, xs_by_dtype, path, title, whole, footer):
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.4), sharey=True, constrained_layout=True)
    for row, dtype in enumerate((np.float32, np.float64)):
        xs = xs_by_dtype[dtype].astype(np.float64)
        abscissa = signed_log(xs, dtype) if whole else xs
        for col, q in enumerate(("loss", "gradient")):
            ax = axes[row, col]
            for label, (le, ge, _) in results[dtype].items():
                err = np.clip(le if q == "loss" else ge, FLOOR_ULP, NAN_ULP)
                kw = dict(STYLE.get(label.split()[0], {}))
                kw.setdefault("lw", 1.2)
                ax.plot(abscissa, err, label=label, alpha=0.85, **kw)
            ax.set_yscale("log")
            if whole:
                whole_range_ticks(ax, dtype)
            else:
                ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
                ax.set_xlim(-1.05e4, 1.05e4)
            ax.axhline(1.0, color="grey", ls=":", lw=1)
            ax.set_ylim(FLOOR_ULP * 0.5, NAN_ULP * 10)
            ax.set_yticks([FLOOR_ULP, 1, 1e3, 1e6, 1e9, 1e12, 1e15, NAN_ULP])
            ax.set_yticklabels(["exact", "1", "$10^3$", "$10^6$", "$10^9$", "$10^{12}$",
                                "$10^{15}$", "NaN/inf"])
            ax.set_title(f"{np.dtype(dtype).name}, {q}")
            ax.set_xlabel("logit x" + (" (log scale of |x| on each side)" if whole else ""))
            if col == 0:
                ax.set_ylabel("error in ulp (worse of labels 0 and 1)")
            ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=9)
    fig.suptitle(title + "\n" + footer, fontsize=11)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def environment():
    versions = [f"{label}" for label, _ in peers()]
    return (f"{platform.machine()}, cbce SIMD {cbce._core.SIMD_LEVEL}; " + ", ".join(versions)
            + f"; mpmath {mpmath.__version__} at {mpmath.mp.prec} bits")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "figures"))
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    plist = peers()
    env = environment()
    near, whole = {}, {}
    for dtype in (np.float32, np.float64):
        near[dtype], whole[dtype] = grids(dtype)
    res_near = {d: measure(near[d], d, plist) for d in near}
    res_whole = {d: measure(whole[d], d, plist) for d in whole}
    plot(res_near, near, os.path.join(args.out, "accuracy_1e4.png"),
         "BCE with logits: error in ulp against mpmath, logits in [-1e4, 1e4]", False, env)
    plot(res_whole, whole, os.path.join(args.out, "accuracy_whole_range.png"),
         "BCE with logits: error in ulp over the whole float range", True, env)
    with open(os.path.join(args.out, "accuracy_worst.csv"), "w") as f:
        f.write('library,dtype,"loss: max error, where, returned / true",'
                '"gradient: max error, where, returned / true",NaN of 8 at x = ±inf\n')
        for dtype in (np.float32, np.float64):
            for label, fn in plist:
                worst = res_near[dtype][label][2] + res_whole[dtype][label][2]
                cells = []
                for q in ("loss", "gradient"):
                    e, x, y, _, got, want = max(w for w in worst if w[3] == q)
                    shown = "NaN or inf" if e >= NAN_ULP else f"{e:.3g} ulp"
                    cells.append(f'"{shown} at x = {x:.9g}, y = {y}: {got:.9g} / '
                                 f'{mpmath.nstr(want, 9)}"')
                f.write(f"{label},{np.dtype(dtype).name},{cells[0]},{cells[1]},"
                        f"{nan_at_infinity(fn, dtype)}\n")
    print("wrote accuracy_1e4.png, accuracy_whole_range.png, accuracy_worst.csv to", args.out)


if __name__ == "__main__":
    main()
