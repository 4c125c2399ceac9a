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
