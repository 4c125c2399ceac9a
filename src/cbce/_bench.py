"""Peer benchmark: cbce against NumPy, and PyTorch / scikit-learn / JAX where installed.

Every figure is measured in this process, in this run; ratios are peer time / cbce time
(above 1: cbce is faster).  Used by ``python -m cbce`` (quick) and ``python -m cbce bench``.
"""
import datetime
import importlib
import json
import os
import platform
import sys
import time

import numpy as np

from . import _core


def _best(fns, min_time=0.2, repeat=5):
    """{key: best time per call (seconds)} of each fn() in the dict `fns`, over `repeat`
    rounds; within a round every fn runs its ~min_time/repeat batch in turn, so load from
    other jobs on the machine hits all of them alike instead of whichever ran during it."""
    loops = {}
    for key, fn in fns.items():
        fn()
        t0 = time.perf_counter()
        fn()
        one = max(time.perf_counter() - t0, 1e-7)
        loops[key] = max(1, int(min_time / repeat / one))
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(loops[key]):
                fn()
            best[key] = min(best[key], (time.perf_counter() - t0) / loops[key])
    return best


def _numpy_peer(x, y, threads=1):
    # The usual NumPy formulation (loses accuracy at large |x|); NumPy's ufuncs run on one
    # thread whatever `threads` says.
    def fwd():
        return np.mean(np.logaddexp(0, -x) + (1 - y) * x)

    def fwd_bwd():
        loss = np.mean(np.logaddexp(0, -x) + (1 - y) * x)
        grad = (1 / (1 + np.exp(-x)) - y) / x.size
        return loss, grad
    return fwd, fwd_bwd


def _torch_peer(x, y, threads=1):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    torch.set_num_threads(threads)   # process-wide: measure() times each peer right after
    tx = torch.from_numpy(x)
    ty = torch.from_numpy(y)

    def fwd():  # a plain call: tx does not require grad (no_grad would add overhead)
        return F.binary_cross_entropy_with_logits(tx, ty)

    def fwd_bwd():
        xr = tx.detach().requires_grad_(True)
        loss = F.binary_cross_entropy_with_logits(xr, ty)
        loss.backward()
        return loss, xr.grad
    return fwd, fwd_bwd


def _sklearn_peer(x, y, threads=1):
    try:
        from sklearn._loss.loss import HalfBinomialLoss
    except ImportError:
        return None
    loss = HalfBinomialLoss()
    yt = y.astype(x.dtype)

    def fwd():
        return np.mean(loss.loss(y_true=yt, raw_prediction=x, n_threads=threads))

    def fwd_bwd():
        return loss.loss_gradient(y_true=yt, raw_prediction=x, n_threads=threads)
    return fwd, fwd_bwd


def _jax_peer(x, y, threads=1):
    # XLA picks its own thread count: `threads` is not applied.
    try:
        import jax
        import jax.numpy as jnp
        import optax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)   # else float64 arrays become float32
    jx, jy = jnp.asarray(x), jnp.asarray(y)
    f = jax.jit(lambda a, b: optax.sigmoid_binary_cross_entropy(a, b).mean())
    fg = jax.jit(jax.value_and_grad(f))

    def fwd():
        return f(jx, jy).block_until_ready()

    def fwd_bwd():
        v, g = fg(jx, jy)
        return v.block_until_ready(), g.block_until_ready()
    return fwd, fwd_bwd


# module whose __version__ names each peer's version
PEER_MODULES = {"numpy": "numpy", "torch": "torch", "sklearn": "sklearn", "jax": "jax"}
PEERS = {"numpy": _numpy_peer, "torch": _torch_peer, "sklearn": _sklearn_peer,
         "jax": _jax_peer}


def measure(dtype, n, num_threads=1, min_time=0.2, peers=PEERS):
    """{name: (forward s/call, fused forward+backward s/call)} for cbce and each peer, each
    asked to use `num_threads` threads (NumPy and JAX cannot be)."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n) * 4).astype(dtype)
    y = (rng.random(n) < 0.5).astype(dtype)
    # The fused call allocates its gradient, as the peers' backward passes do.
    fns = {("cbce", 0): lambda: _core.binary_cross_entropy_with_logits(
               x, y, num_threads=num_threads),
           ("cbce", 1): lambda: _core.binary_cross_entropy_with_logits_forward_backward(
               x, y, num_threads=num_threads)}
    for name, make in peers.items():
        peer = make(x, y, num_threads)
        if peer is not None:
            fns[(name, 0)], fns[(name, 1)] = peer
    best = _best(fns, min_time)
    return {name: (best[(name, 0)], best[(name, 1)]) for name, part in fns if part == 0}


def report(sizes=(10**3, 10**4, 10**5, 10**6, 10**7), dtypes=("float32", "float64"),
           min_time=0.2, file=None):
    """Print the table of `python -m cbce bench`: ns per element and ratio peer/cbce."""
    print(header(), file=file)
    print("one thread each; ns/element; ratio = peer time / cbce time", file=file)
    print(f"{'dtype':8} {'n':>9} {'library':8} {'forward':>10} {'fwd+bwd':>10} "
          f"{'fwd ratio':>10} {'f+b ratio':>10}", file=file)
    for dt in dtypes:
        for n in sizes:
            res = measure(np.dtype(dt).type, n, min_time=min_time)
            cf, cb = res["cbce"]
            for name, (f, b) in res.items():
                print(f"{dt:8} {n:9d} {name:8} {f / n * 1e9:10.2f} {b / n * 1e9:10.2f} "
                      f"{f / cf:10.2f} {b / cb:10.2f}", file=file)


def threads(n=10**7, dtype=np.float32, min_time=0.5):
    """(1-thread s, 2-thread s) of the fused forward+backward on n elements."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n) * 4).astype(dtype)
    y = (rng.random(n) < 0.5).astype(dtype)
    grad = np.empty_like(x)
    best = {1: float("inf"), 2: float("inf")}
    end = time.perf_counter() + 2 * min_time
    rounds = 0
    # one call each way, alternately, best of each: load from other jobs on the machine
    # then hits both counts alike instead of whichever ran during it
    while rounds < 5 or time.perf_counter() < end:
        for k in (1, 2):
            t0 = time.perf_counter()
            _core.binary_cross_entropy_with_logits_forward_backward(
                x, y, num_threads=k, out=(None, grad))
            best[k] = min(best[k], time.perf_counter() - t0)
        rounds += 1
    return best[1], best[2]


def peak_memory(n=10**7, dtype=np.float32):
    """(tracemalloc peak of one fused forward+backward on n elements, bytes of its gradient)."""
    import tracemalloc
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n) * 4).astype(dtype)
    y = (rng.random(n) < 0.5).astype(dtype)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        loss, grad = _core.binary_cross_entropy_with_logits_forward_backward(x, y)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak, grad.nbytes


def report_targets(file=None):
    """The thread and memory lines of `python -m cbce bench`."""
    one, two = threads()
    print(f"\nthreads: float32 10^7 fused forward+backward (gradient preallocated): 1 thread "
          f"{one / 1e7 * 1e9:.2f} ns/element, 2 threads {two / 1e7 * 1e9:.2f}; speed-up "
          f"{one / two:.2f}x", file=file)
    peak, need = peak_memory()
    print(f"memory: float32 10^7 fused forward+backward: tracemalloc peak {peak} bytes, of "
          f"which the gradient is {need}; {peak - need} bytes more", file=file)


def _torch_family_peers(torch, F):
    """{case: (forward, loss of a tensor that may require grad)} PyTorch formulas of the
    quantities cbce's other functions compute (the papers' and torchvision's formulas with
    the defaults of cbce's signatures), and the helpers' torch functions."""
    def focal_terms(x, y, gamma=2.0):
        p = torch.sigmoid(x)
        ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        one_minus_pt = 1 - (p * y + (1 - p) * (1 - y))
        return ce, one_minus_pt, one_minus_pt ** gamma

    def focal(x, y):      # torchvision.ops.sigmoid_focal_loss, alpha 0.25, gamma 2, mean
        ce, _, f = focal_terms(x, y)
        return ((0.25 * y + 0.75 * (1 - y)) * f * ce).mean()

    def poly1(x, y):      # Leng et al. 2022, epsilon 1
        ce, v, _ = focal_terms(x, y)
        return (ce + v).mean()

    def poly1_focal(x, y):
        ce, v, f = focal_terms(x, y)
        return ((0.25 * y + 0.75 * (1 - y)) * f * ce + v * f).mean()

    def asymmetric(x, y):  # Ridnik et al. 2021: gamma_pos 0, gamma_neg 4, clip 0.05
        p = torch.sigmoid(x)
        pm = (p - 0.05).clamp(min=0)
        pos = y * torch.log(p.clamp(min=1e-8))
        neg = (1 - y) * pm ** 4 * torch.log((1 - pm).clamp(min=1e-8))
        return -(pos + neg).mean()

    return {"sigmoid_focal_loss": focal, "poly1_loss": poly1,
            "poly1_focal_loss": poly1_focal, "asymmetric_loss": asymmetric,
            "binary_cross_entropy": F.binary_cross_entropy,
            "sigmoid": torch.sigmoid, "log_sigmoid": F.logsigmoid, "softplus": F.softplus}


# cbce's functions besides BCE with logits, in the order of the families table
FAMILY_CASES = ("sigmoid_focal_loss", "poly1_loss", "poly1_focal_loss", "asymmetric_loss",
                "binary_cross_entropy", "sigmoid", "log_sigmoid", "softplus")


def measure_families(dtype, n=10**6, min_time=0.2, cases=FAMILY_CASES):
    """{case: {"cbce": (forward s, fused s or None), "torch": (...), "bce": (...)}}: each of
    cbce's other functions at n elements, one thread, timed alternately with PyTorch's
    formula of the same quantity and with cbce's BCE with logits on the same data (fused:
    the loss and its gradient, allocated; the helpers have no fused pass)."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n) * 4).astype(dtype)
    y = (rng.random(n) < 0.5).astype(dtype)
    prob = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(dtype)
    try:
        import torch
        import torch.nn.functional as F
        torch.set_num_threads(1)
        peers = _torch_family_peers(torch, F)
        tx, ty, tp = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(prob)
    except ImportError:
        torch = peers = None
    bce = _core.binary_cross_entropy_with_logits
    bce_fb = _core.binary_cross_entropy_with_logits_forward_backward
    out = {}
    for case in cases:
        fn = getattr(_core, case)
        helper = case in ("sigmoid", "log_sigmoid", "softplus")
        data = prob if case == "binary_cross_entropy" else x
        if helper:
            fns = {("cbce", 0): lambda: fn(x), ("bce", 0): lambda: bce(x, y, num_threads=1)}
        else:
            fb = getattr(_core, case + "_forward_backward")
            fns = {("cbce", 0): lambda: fn(data, y, num_threads=1),
                   ("cbce", 1): lambda: fb(data, y, num_threads=1),
                   ("bce", 0): lambda: bce(x, y, num_threads=1),
                   ("bce", 1): lambda: bce_fb(x, y, num_threads=1)}
        if peers is not None:
            peer, tdata = peers[case], (tp if case == "binary_cross_entropy" else tx)
            if helper:
                fns[("torch", 0)] = lambda: peer(tdata)
            else:
                fns[("torch", 0)] = lambda: peer(tdata, ty)

                def fused(peer=peer, tdata=tdata):
                    xr = tdata.detach().requires_grad_(True)
                    loss = peer(xr, ty)
                    loss.backward()
                    return loss, xr.grad
                fns[("torch", 1)] = fused
        best = _best(fns, min_time)
        out[case] = {lib: (best[(lib, 0)], best.get((lib, 1)))
                     for lib in ("cbce", "torch", "bce") if (lib, 0) in best}
    return out


def report_families(n=10**6, dtypes=("float32", "float64"), min_time=0.2, file=None):
    """The families table of `python -m cbce bench`: cbce's other functions against
    PyTorch's formulas (ratio torch / cbce: above 1, cbce is faster) and against cbce's own
    BCE with logits (ratio cbce / BCE: the cost of the family over the plain loss)."""
    print(f"\nthe other functions, {n} elements, one thread; ns/element; "
          "torch/cbce = PyTorch time / cbce time; cbce/bce = cbce time / cbce BCE-with-logits "
          "time", file=file)
    print(f"{'function':22} {'dtype':8} {'forward':>8} {'fwd+bwd':>8} {'torch/cbce':>11} "
          f"{'f+b':>6} {'cbce/bce':>9} {'f+b':>6}", file=file)

    def cell(num, den, width):
        return f"{num / den:{width}.2f}" if num and den else f"{'-':>{width}}"
    for dt in dtypes:
        for case, r in measure_families(np.dtype(dt).type, n, min_time).items():
            (cf, cb), (tf, tb), (bf, bb) = r["cbce"], r.get("torch", (None, None)), r["bce"]
            fused = f"{cb / n * 1e9:8.2f}" if cb else f"{'-':>8}"
            print(f"{case:22} {dt:8} {cf / n * 1e9:8.2f} {fused} {cell(tf, cf, 11)} "
                  f"{cell(tb, cb, 6)} {cell(cf, bf, 9)} {cell(cb, bb, 6)}", file=file)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment():
    """What a benchmark ran on: CPU, cores, SIMD level, and the versions of cbce, Python and
    every peer that imports (absent ones are left out)."""
    versions = {"cbce": _core.__version__, "python": platform.python_version()}
    for name, module in PEER_MODULES.items():
        try:
            versions[name] = importlib.import_module(module).__version__
        except ImportError:
            pass
    cores: int | None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return {"cpu": _cpu_model(), "machine": platform.machine(), "system": platform.system(),
            "cores": cores, "simd": _core.SIMD_LEVEL, "versions": versions,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def header(env=None):
    """One line naming the machine, the SIMD level and the library versions."""
    env = env or environment()
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    return (f"# {env['cpu']} ({env['machine']}, {env['cores']} cores), cbce SIMD "
            f"{env['simd']}; {versions}; {env['date']}")


def report_json(sizes=(10**3, 3 * 10**3, 10**4, 3 * 10**4, 10**5, 3 * 10**5, 10**6,
                       3 * 10**6, 10**7),
                dtypes=("float32", "float64"), threads=(1, 2), min_time=0.2, file=None):
    """`python -m cbce bench --json`: every case of the table at one and two threads, as one
    JSON document {"environment": ..., "results": [{dtype, n, threads, library,
    forward_s, forward_backward_s}, ...]} (seconds per call, best of the rounds)."""
    results = []
    for k in threads:
        for dt in dtypes:
            for n in sizes:
                print(f"bench: {dt} n={n} threads={k}", file=sys.stderr, flush=True)
                for name, (f, b) in measure(np.dtype(dt).type, n, num_threads=k,
                                            min_time=min_time).items():
                    results.append({"dtype": dt, "n": n, "threads": k, "library": name,
                                    "forward_s": f, "forward_backward_s": b})
    json.dump({"environment": environment(), "results": results}, file or sys.stdout,
              indent=1)
    print(file=file)
