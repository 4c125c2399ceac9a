"""Peer benchmark: cbce against NumPy, and PyTorch / scikit-learn / JAX where installed.

Every figure is measured in this process, in this run; ratios are peer time / cbce time
(above 1: cbce is faster).  Used by ``python -m cbce`` (quick) and ``python -m cbce bench``.
"""
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


def _numpy_peer(x, y):
    # The usual NumPy formulation (loses accuracy at large |x|, see README).
    def fwd():
        return np.mean(np.logaddexp(0, -x) + (1 - y) * x)

    def fwd_bwd():
        loss = np.mean(np.logaddexp(0, -x) + (1 - y) * x)
        grad = (1 / (1 + np.exp(-x)) - y) / x.size
        return loss, grad
    return fwd, fwd_bwd


def _torch_peer(x, y):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
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


def _sklearn_peer(x, y):
    try:
        from sklearn._loss.loss import HalfBinomialLoss
    except ImportError:
        return None
    loss = HalfBinomialLoss()
    yt = y.astype(x.dtype)

    def fwd():
        return np.mean(loss.loss(y_true=yt, raw_prediction=x))

    def fwd_bwd():
        return loss.loss_gradient(y_true=yt, raw_prediction=x)
    return fwd, fwd_bwd


def _jax_peer(x, y):
    try:
        import jax
        import jax.numpy as jnp
        import optax
    except ImportError:
        return None
    jx, jy = jnp.asarray(x), jnp.asarray(y)
    f = jax.jit(lambda a, b: optax.sigmoid_binary_cross_entropy(a, b).mean())
    fg = jax.jit(jax.value_and_grad(f))

    def fwd():
        return f(jx, jy).block_until_ready()

    def fwd_bwd():
        v, g = fg(jx, jy)
        return v.block_until_ready(), g.block_until_ready()
    return fwd, fwd_bwd


PEERS = {"numpy": _numpy_peer, "torch": _torch_peer, "sklearn": _sklearn_peer,
         "jax": _jax_peer}


def measure(dtype, n, num_threads=1, min_time=0.2, peers=PEERS):
    """{name: (forward s/call, fused forward+backward s/call)} for cbce and each peer."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n) * 4).astype(dtype)
    y = (rng.random(n) < 0.5).astype(dtype)
    # The fused call allocates its gradient, as the peers' backward passes do.
    fns = {("cbce", 0): lambda: _core.binary_cross_entropy_with_logits(
               x, y, num_threads=num_threads),
           ("cbce", 1): lambda: _core.binary_cross_entropy_with_logits_forward_backward(
               x, y, num_threads=num_threads)}
    for name, make in peers.items():
        peer = make(x, y)
        if peer is not None:
            fns[(name, 0)], fns[(name, 1)] = peer
    best = _best(fns, min_time)
    return {name: (best[(name, 0)], best[(name, 1)]) for name, part in fns if part == 0}


def _threads_guard():
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass


def report(sizes=(10**3, 10**4, 10**5, 10**6, 10**7), dtypes=("float32", "float64"),
           min_time=0.2, file=None):
    """Print the table of `python -m cbce bench`: ns per element and ratio peer/cbce."""
    _threads_guard()
    print("one thread each (torch.set_num_threads(1)); ns/element; ratio = peer time / cbce "
          "time", file=file)
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
