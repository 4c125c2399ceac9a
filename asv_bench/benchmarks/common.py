"""Shared helpers of the cbce benchmark suite: data, feature checks, the thread counts.

Everything here tolerates old commits of cbce: a function that a commit does not have
is skipped (``NotImplementedError`` raised in ``setup``, which asv records as "n/a").
"""
import os
import time
import timeit

import numpy as np

import cbce

DTYPES = ["float32", "float64"]
ALL_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
THREADS = {"1": 1, "all": ALL_CORES}

# Functions of the API (docs/contract.md), grouped by family.  Timings use one-line methods calling
# getattr(cbce, name) resolved in setup.
LOGITS = [
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_backward",
    "binary_cross_entropy_with_logits_forward_backward",
    "binary_cross_entropy_with_logits_grad_hess",
]
PROBS = ["binary_cross_entropy", "binary_cross_entropy_backward"]
FOCAL = [
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_backward",
    "sigmoid_focal_loss_forward_backward",
    "sigmoid_focal_loss_grad_hess",
]
ELEMENTWISE = ["sigmoid", "log_sigmoid", "softplus"]
# functions that take no `reduction` keyword
NO_REDUCTION = {"binary_cross_entropy_with_logits_grad_hess", "sigmoid_focal_loss_grad_hess"}


def require(name):
    """The cbce function `name`, or NotImplementedError (asv: skipped) if this commit lacks it."""
    fn = getattr(cbce, name, None)
    if fn is None:
        raise NotImplementedError(f"cbce.{name} does not exist in this version")
    return fn


def simd_level():
    """The SIMD level the kernels run at, or 'unknown' on commits that do not say."""
    core = getattr(cbce, "_core", None)
    level = getattr(core, "SIMD_LEVEL", None) or getattr(cbce, "SIMD_LEVEL", None)
    if level is None:
        config = getattr(core, "_config", None)
        if config is not None:
            try:
                level = config().get("simd")
            except Exception:
                level = None
    return level or "unknown"


def rng(seed=12345):
    return np.random.default_rng(seed)


def logits(n, dtype, seed=1):
    """Logits spread like a real model's: mostly |x| < 8, some far out."""
    r = rng(seed)
    return (r.standard_normal(n) * 4.0).astype(dtype)


def targets(n, dtype="float64", seed=2):
    """Hard 0/1 labels in the given dtype (float, uint8, bool, ...)."""
    r = rng(seed)
    t = r.random(n) < 0.3
    return t.astype(dtype)


def lowmem_inputs(n, dtype="float32", chunk=1 << 20, seed=4):
    """Logits and 0/1 targets made chunk by chunk, without full-size temporaries.

    For the peakmem_ benchmarks: asv reports the process's peak RSS, setup included, so
    the data must be made with a peak no higher than the arrays themselves.
    """
    r = rng(seed)
    x = np.empty(n, dtype=dtype)
    y = np.empty(n, dtype=dtype)
    for i in range(0, n, chunk):
        m = min(chunk, n - i)
        x[i:i + m] = r.standard_normal(m) * 4.0
        y[i:i + m] = r.random(m) < 0.3
    return x, y


def probabilities(n, dtype, seed=3):
    """Probabilities in the open interval (0, 1), for binary_cross_entropy."""
    r = rng(seed)
    return (1.0 / (1.0 + np.exp(-r.standard_normal(n) * 4.0))).astype(dtype)


def reduction_kwargs(name, reduction):
    return {} if name in NO_REDUCTION else {"reduction": reduction}


def threads_kwargs(fn, threads):
    """{'num_threads': n}; NotImplementedError where this commit has no num_threads keyword."""
    n = THREADS[threads]
    try:
        fn(np.zeros(4), np.zeros(4), num_threads=n)
    except TypeError as exc:
        if "num_threads" in str(exc):
            raise NotImplementedError("no num_threads keyword in this version")
        raise
    return {"num_threads": n}


class Benchmark:
    """Base of the timing classes.  Timed in CPU time of the process (time.process_time),
    which the other jobs of a shared machine disturb far less than wall time, over enough
    rounds (asv interleaves the rounds of the benchmarks) that a 20% change stands out of
    the spread.  Calls that use several threads count every thread's CPU time: classes that
    measure the speed-up of threads (WallClock) time in wall time instead."""
    timeout = 300
    timer = staticmethod(time.process_time)
    rounds = 4
    repeat = (5, 20, 8.0)
    warmup_time = 0.1


class WallClock(Benchmark):
    """Benchmarks that compare thread counts: elapsed time, asv's default timer."""
    timer = staticmethod(timeit.default_timer)
