"""Hardening, part 3: concurrency.

* Many Python threads calling every function at once get the bits of serial calls (the
  GIL is released in the core, so the calls really overlap; large calls also start the
  core's own threads).
* fork (multiprocessing's "fork" start method) after cbce has used its threads, and while
  another thread is inside a call, does not hang, and the children compute the same bits.
* set_num_threads while other threads compute is safe, and results do not change.

Every wait has a timeout, so a hang fails the test instead of blocking CI.
"""
import multiprocessing
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import cbce

TIMEOUT = 120  # seconds; far above the few seconds these tests take


def _calls():
    """(label, function, args, kwargs) for every function of cbce, small and large."""
    rng = np.random.default_rng(7)
    out = []
    for n, dtype in ((1000, np.float64), (70001, np.float32), (66000, np.float64)):
        x = rng.normal(0, 4, n).astype(dtype)
        y = (rng.uniform(size=n) < 0.3).astype(np.uint8)
        p = rng.uniform(0, 1, n).astype(dtype)
        ys = rng.uniform(size=n).astype(dtype)
        w = rng.uniform(0, 2, n).astype(dtype)
        specs = [
            ("binary_cross_entropy_with_logits", (x, y), dict(reduction="mean")),
            ("binary_cross_entropy_with_logits", (x, ys), dict(reduction="none", weight=w,
                                                               label_smoothing=0.1)),
            ("binary_cross_entropy_with_logits", (x, y), dict(reduction="weighted_mean",
                                                              weight=w, pos_weight=2.0)),
            ("binary_cross_entropy_with_logits_backward", (x, y), dict(reduction="sum")),
            ("binary_cross_entropy_with_logits_forward_backward", (x, ys), dict()),
            ("binary_cross_entropy_with_logits_grad_hess", (x, y), dict(pos_weight=0.5)),
            ("binary_cross_entropy", (p, ys), dict(reduction="mean")),
            ("binary_cross_entropy", (p, y), dict(reduction="none")),
            ("binary_cross_entropy_backward", (p, ys), dict(reduction="mean", weight=w)),
            ("sigmoid_focal_loss", (x, y), dict(reduction="mean")),
            ("sigmoid_focal_loss", (x, ys), dict(reduction="none", gamma=0.5, alpha=None)),
            ("sigmoid_focal_loss_backward", (x, y), dict(reduction="sum", gamma=1.5)),
            ("sigmoid_focal_loss_forward_backward", (x, ys), dict()),
            ("sigmoid_focal_loss_grad_hess", (x, y), dict(gamma=2.0)),
            ("sigmoid", (x,), dict()),
            ("log_sigmoid", (x,), dict()),
            ("softplus", (x,), dict()),
        ]
        for name, args, kw in specs:
            if hasattr(cbce, name):
                out.append((f"{name}[n={n},{np.dtype(dtype).name},{sorted(kw)}]",
                            getattr(cbce, name), args, kw))
    return out


CALLS = _calls()
MISSING = sorted({n for n in ("binary_cross_entropy", "sigmoid_focal_loss", "sigmoid",
                              "log_sigmoid", "softplus") if not hasattr(cbce, n)})


def _bits(r):
    if isinstance(r, tuple):
        return tuple(_bits(v) for v in r)
    a = np.asarray(r)
    return (a.dtype.str, a.shape, a.tobytes())


def _serial():
    return [_bits(f(*a, **kw)) for _, f, a, kw in CALLS]


def test_all_functions_covered():
    assert not MISSING, f"functions not in cbce yet (not covered here): {MISSING}"


def test_threads_same_bits_as_serial():
    want = _serial()
    errors = []
    order = list(range(len(CALLS))) * 2

    def worker(seed):
        rnd = random.Random(seed)
        idx = order[:]
        rnd.shuffle(idx)
        for i in idx:
            label, f, a, kw = CALLS[i]
            kw = dict(kw)
            kw_nt = rnd.choice([None, 1, 2, 3])
            if kw_nt is not None and not label.startswith(("sigmoid[", "log_sigmoid[",
                                                           "softplus[")):
                kw["num_threads"] = kw_nt
            got = _bits(f(*a, **kw))
            if got != want[i]:
                errors.append(f"{label} with num_threads={kw_nt}: bits differ from serial")
        return True

    with ThreadPoolExecutor(8) as ex:
        futs = [ex.submit(worker, s) for s in range(6)]
        for fu in futs:
            assert fu.result(timeout=TIMEOUT)
    assert not errors, errors[:10]


def test_threads_with_out_arrays():
    """Concurrent calls each writing into its own out= (and an in-place gradient)."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 3, (300, 300))
    y = (rng.uniform(size=(300, 300)) < 0.5)
    want = cbce.binary_cross_entropy_with_logits_backward(x, y, reduction="none")

    def worker(k):
        for _ in range(20):
            buf = np.array(x, copy=True)
            r = cbce.binary_cross_entropy_with_logits_backward(buf, y, reduction="none",
                                                               out=buf, num_threads=1 + k % 3)
            if r is not buf or buf.tobytes() != want.tobytes():
                return False
        return True

    with ThreadPoolExecutor(6) as ex:
        assert all(f.result(timeout=TIMEOUT) for f in [ex.submit(worker, k) for k in range(6)])


def test_set_num_threads_while_computing():
    want = _serial()
    old = cbce.get_num_threads()
    stop = threading.Event()
    errors = []

    def toggler():
        k = 0
        while not stop.is_set():
            cbce.set_num_threads(1 + k % 4)
            k += 1
            time.sleep(0)

    def worker(seed):
        rnd = random.Random(seed)
        for _ in range(1):
            for i in rnd.sample(range(len(CALLS)), len(CALLS)):
                label, f, a, kw = CALLS[i]
                if _bits(f(*a, **kw)) != want[i]:
                    errors.append(label)
        return True

    t = threading.Thread(target=toggler, daemon=True)
    t.start()
    try:
        with ThreadPoolExecutor(4) as ex:
            assert all(f.result(timeout=TIMEOUT) for f in [ex.submit(worker, s)
                                                            for s in range(4)])
    finally:
        stop.set()
        t.join(TIMEOUT)
        cbce.set_num_threads(old)
    assert not t.is_alive()
    assert not errors, errors[:10]
    assert 1 <= cbce.get_num_threads()


# ---- fork -------------------------------------------------------------------------------

def _child_work(i):
    """Runs in a forked child: every call, including ones that start the core's threads."""
    return [_bits(f(*a, **kw)) for _, f, a, kw in CALLS[i::3]]


needs_fork = pytest.mark.skipif(
    sys.platform == "win32" or "fork" not in multiprocessing.get_all_start_methods(),
    reason="no fork on this platform")


def _fork_ctx():
    return multiprocessing.get_context("fork")


@needs_fork
def test_fork_after_threads():
    ctx = _fork_ctx()
    # the core's threads run (and are joined) before the fork
    big = np.random.default_rng(1).normal(size=500_000)
    cbce.binary_cross_entropy_with_logits(big, big > 0, num_threads=2)
    want = [[_bits(f(*a, **kw)) for _, f, a, kw in CALLS[i::3]] for i in range(3)]
    with ctx.Pool(2) as pool:
        got = pool.map_async(_child_work, range(3)).get(timeout=TIMEOUT)
    assert got == want


@needs_fork
def test_fork_while_another_thread_computes():
    """fork() while a Python thread is inside a multi-threaded cbce call: the child gets
    only the forking thread, must not hang and must compute correctly."""
    ctx = _fork_ctx()
    big = np.random.default_rng(2).normal(size=400_000)
    tgt = big > 0
    want = [[_bits(f(*a, **kw)) for _, f, a, kw in CALLS[i::3]] for i in range(3)]
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            cbce.binary_cross_entropy_with_logits_forward_backward(big, tgt, num_threads=2)

    threads = [threading.Thread(target=busy, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(2):
            time.sleep(0.01)
            with ctx.Pool(2) as pool:
                got = pool.map_async(_child_work, range(3)).get(timeout=TIMEOUT)
            assert got == want
    finally:
        stop.set()
        for t in threads:
            t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
def test_os_fork_child_uses_threads():
    """A bare os.fork() child runs a call that starts the core's threads, then exits."""
    big = np.random.default_rng(4).normal(size=300_000)
    want = _bits(cbce.binary_cross_entropy_with_logits(big, big > 0, num_threads=2))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            ok = _bits(cbce.binary_cross_entropy_with_logits(big, big > 0,
                                                             num_threads=4)) == want
            os.write(w, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(w)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("forked child hung")
    assert os.read(r, 1) == b"1"
    os.close(r)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
