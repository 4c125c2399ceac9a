"""Hardening, part 4: memory.

* No growth over many calls of every function, error paths included: Python allocations
  (tracemalloc), reference counts of the caller's arrays, the resident set size and (with
  glibc) the bytes in use on the C heap.  After a warm-up the growth is read over several
  windows and bounded per call, the first window dropped (see "the growth check"; a test
  checks that the check fails on small deliberate leaks).  CBCE_MEMORY_CALLS sets the calls
  per function (default 2*10^4; .ci/hardening.sh runs the issue's 10^5).
* Arrays of more than 2^31 elements (64-bit indexing): a test marked `slow` with a float32
  input and a uint8 target of 2^31 + 5 elements (10.7 GB).  It runs when selected with
  `-m slow` or when CBCE_SLOW=1 (.ci/hardening.sh does both), and skips when the machine
  has less than 14 GB available.
"""
import ctypes
import gc
import math
import mmap
import os
import sys
import tracemalloc

import numpy as np
import pytest

import cbce

CALLS = int(os.environ.get("CBCE_MEMORY_CALLS", "20000"))


# ---- the calls ------------------------------------------------------------------------

def _good_calls():
    rng = np.random.default_rng(11)
    x = rng.normal(0, 3, (4, 8))
    x32 = x.astype(np.float32)
    y = (rng.uniform(size=(4, 8)) < 0.5).astype(np.float64)
    yb = y.astype(bool)
    p = rng.uniform(0, 1, (4, 8))
    w = rng.uniform(0, 1, 8)
    out = np.empty((4, 8))
    out2 = np.empty((4, 8))
    c = {
        "binary_cross_entropy_with_logits": [
            ((x, y), dict()), ((x32, yb), dict(reduction="none", weight=w, pos_weight=w)),
            ((x, y), dict(reduction="none", out=out)), ((x.T, y.T), dict(reduction="sum")),
            ((x.astype(">f8"), y), dict(reduction="weighted_mean", weight=w.reshape(1, 8)))],
        "binary_cross_entropy_with_logits_backward": [
            ((x, y), dict()), ((x, y), dict(reduction="none", grad_output=w, out=out))],
        "binary_cross_entropy_with_logits_forward_backward": [
            ((x, y), dict()), ((x32, yb), dict(reduction="none", label_smoothing=0.1))],
        "binary_cross_entropy_with_logits_grad_hess": [
            ((x, y), dict()), ((x, y), dict(out=(out, out2)))],
        "binary_cross_entropy": [((p, y), dict()), ((p, yb), dict(reduction="none"))],
        "binary_cross_entropy_backward": [((p, y), dict()),
                                          ((p.astype(np.float16), y), dict(reduction="none"))],
        "sigmoid_focal_loss": [((x, y), dict()), ((x32, yb), dict(reduction="none",
                                                                   gamma=0.5))],
        "sigmoid_focal_loss_backward": [((x, y), dict())],
        "sigmoid_focal_loss_forward_backward": [((x, y), dict())],
        "sigmoid_focal_loss_grad_hess": [((x, y), dict())],
        "sigmoid": [((x,), dict()), ((x32,), dict(out=np.empty((4, 8), np.float32)))],
        "log_sigmoid": [((x,), dict())],
        "softplus": [((x,), dict())],
    }
    return c


def _bad_calls():
    x = np.zeros((4, 8))
    y = np.zeros((4, 8))
    bad_p = np.full((4, 8), 0.5)
    bad_p[3, 7] = 2.0
    c = {
        "binary_cross_entropy_with_logits": [
            ((x, y[:2]), dict()), ((x, y), dict(reduction="avg")),
            ((x, y), dict(label_smoothing=2.0)), ((x, y), dict(weight=np.ones(3))),
            ((x, y), dict(reduction="none", out=np.empty(3))),
            ((x.astype(int), y), dict()), ((x, y), dict(num_threads=0))],
        "binary_cross_entropy_with_logits_backward": [
            ((x, y), dict(grad_output=np.ones(3)))],
        "binary_cross_entropy_with_logits_forward_backward": [((x, y), dict(out=3))],
        "binary_cross_entropy_with_logits_grad_hess": [
            ((x, y), dict(out=(np.empty((4, 8), np.float32), None)))],
        "binary_cross_entropy": [((bad_p, y), dict()), ((x, bad_p), dict(reduction="none"))],
        "binary_cross_entropy_backward": [((bad_p, y), dict(out=np.empty((4, 8))))],
        "sigmoid_focal_loss": [((x, y), dict(gamma=-1.0)), ((x, y), dict(alpha=np.inf))],
        "sigmoid_focal_loss_backward": [((x, y), dict(gamma=np.nan))],
        "sigmoid_focal_loss_forward_backward": [((x, y), dict(reduction="x"))],
        "sigmoid_focal_loss_grad_hess": [((x, y[0]), dict())],
        "sigmoid": [((x.astype(int),), dict())],
        "log_sigmoid": [((x,), dict(out=np.empty(2)))],
        "softplus": [((x,), dict(out=np.empty((4, 8), np.float32)))],
    }
    return c


GOOD = _good_calls()
BAD = _bad_calls()


def _params(table):
    # every function is part of the API: a missing one fails (AttributeError) in _run
    return [pytest.param(name, id=name) for name in table]


def _run(name, table, ncalls):
    f = getattr(cbce, name)
    calls = table[name]
    for i in range(ncalls):
        args, kw = calls[i % len(calls)]
        try:
            f(*args, **kw)
        except (ValueError, TypeError):
            if table is GOOD:
                raise


def _refcounts(name, table):
    """Reference counts of the arrays passed (not of other arguments: small ints and
    strings are shared with the rest of the interpreter)."""
    out = []
    for args, kw in table[name]:
        for a in list(args) + list(kw.values()) + [o for v in kw.values()
                                                   if isinstance(v, tuple) for o in v]:
            if isinstance(a, np.ndarray):
                out.append(sys.getrefcount(a))
    return out


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _c_heap_probe():
    """glibc's mallinfo2, if it sees a block of 1 MiB malloc'd here (not under ASan, whose
    allocator replaces glibc's: mallinfo2 then stays put), else None."""
    try:
        libc = ctypes.CDLL(None)
        fn = libc.mallinfo2
    except (AttributeError, OSError):        # not glibc, or glibc < 2.33
        return None
    fn.restype = _Mallinfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    def in_use():
        m = fn()
        return m.uordblks + m.hblkhd
    before = in_use()
    block = libc.malloc(1 << 20)
    seen = in_use() - before
    libc.free(block)
    return fn if seen >= 1 << 20 else None


_mallinfo2 = _c_heap_probe()


def _under_asan():
    """True in a process with the AddressSanitizer runtime (tools/asan_pytest.sh): its
    allocator holds freed memory in a quarantine and reuses it, so the RSS follows ASan's
    allocator, not the program (measured: +5 MB per window of 65 calls, then -40 MB)."""
    try:
        ctypes.CDLL(None).__asan_init
    except AttributeError:
        return False
    return True


def _malloc_in_use():
    """Bytes in use on the C heap (glibc's mallinfo2: all arenas plus mmap'd chunks), or
    None where mallinfo2 does not count this process's mallocs."""
    if _mallinfo2 is None:
        return None
    m = _mallinfo2()
    return m.uordblks + m.hblkhd


# ---- the growth check ---------------------------------------------------------------------
#
# A single before/after difference cannot tell a leak from warm-up.  The first calls of an
# error path fill bounded caches (exception and traceback machinery, Cython's code objects
# for tracebacks, interned strings), and later the traced memory still rises now and then
# in steps of 0.1-18 KB, rarer and rarer (a few per 10^4 calls on the error paths), that
# are no new Python objects (the counts by type of gc.get_objects() do not change): most
# likely the free lists (tuples, floats, dicts ...), which keep the most objects ever freed
# at once, topped up when a garbage collection frees more than any before.  That noise is
# bounded per window; a leak grows in every window, by at least one small object per call
# (16 bytes and more).  So: warm up, read the measure at the ends of several windows of
# equal length, drop the first window, and bound the growth of the others by a rate per
# call plus a fixed allowance per window, twice: their median (the steady rate, blind to a
# few steps) and their mean (a leak in bursts).

WINDOWS = 8


class Bar:
    """Growth allowed per window of w calls: median <= median_rate * w + allowance and
    mean <= mean_rate * w + allowance (rates in bytes per call, allowance in bytes)."""

    def __init__(self, median_rate, mean_rate, allowance):
        self.median_rate, self.mean_rate, self.allowance = median_rate, mean_rate, allowance

    def verdict(self, growth, per_window):
        """None when the windows after the first stay within the bar, else a message with
        every window's growth."""
        later = sorted(growth[1:])
        k = len(later)
        median = (later[(k - 1) // 2] + later[k // 2]) / 2
        mean = sum(later) / k
        med_max = self.median_rate * per_window + self.allowance
        mean_max = self.mean_rate * per_window + self.allowance
        if median <= med_max and mean <= mean_max:
            return None
        return (f"windows 2..{len(growth)} of {per_window} calls grew by {median:.0f} bytes "
                f"(median, {median / per_window:.2f}/call; bar {med_max:.0f}) and {mean:.0f} "
                f"bytes (mean, {mean / per_window:.2f}/call; bar {mean_max:.0f}); growth per "
                f"window: {growth}")


# Python allocations: a leaked object is >= 16 bytes per call; the noise measured is <= 0.55
# byte/call (median) and <= 1.5 byte/call (mean) at 2*10^4 calls, <= 0.1 and 0.2 at 10^5.
TRACED = Bar(1.0, 4.0, 4096)
# RSS is counted in pages and moves with the allocators' caches: a coarse bar, a page per
# call (a leaked output in test_no_growth_rss is 64-512 KiB).
RSS = Bar(4096, 16384, 1 << 20)
# The C heap (glibc's count of bytes in use) is exact to the byte and sees a leaked C block
# of any size: measured 0 bytes per window for every function (without tracemalloc, whose
# tables live there), ~100 bytes per window in the first windows with threads.
C_HEAP = Bar(1.0, 4.0, 1024)


def _window_growth(run, measure, windows, per_window):
    """Runs run(per_window) `windows` times; returns measure()'s growth over each run, each
    reading taken after gc.collect() (the error paths leave reference cycles: exception,
    traceback, frame).  A measure returning a tuple gives a tuple of growths per window."""
    gc.collect()
    readings = [measure()]
    for _ in range(windows):
        run(per_window)
        gc.collect()
        readings.append(measure())
    if isinstance(readings[0], tuple):
        return [tuple(b - a for a, b in zip(r0, r1)) for r0, r1 in zip(readings, readings[1:])]
    return [r1 - r0 for r0, r1 in zip(readings, readings[1:])]


def _traced_growth(run, calls, warmup):
    """Python allocations (tracemalloc): `warmup` calls untraced and 500 traced, then
    WINDOWS windows of calls // WINDOWS calls; returns (growth per window, calls per
    window).  (tracemalloc keeps its tables on the C heap, so the C heap is measured in
    another run.)"""
    per_window = max(calls // WINDOWS, 1)
    run(warmup)
    tracemalloc.start()
    try:
        run(500)               # tracemalloc's own first allocations, with the calls
        growth = _window_growth(run, lambda: tracemalloc.get_traced_memory()[0], WINDOWS,
                                per_window)
    finally:
        tracemalloc.stop()
    return growth, per_window


def test_growth_check_catches_leaks():
    """The check itself: it fails on small leaks (a list slot, an object, one object every
    4th call; a C block of 64 bytes; 64 KiB of RSS) and passes a cache that fills in the
    first window and a raise/catch per call."""
    kept = []

    def leak(make, every=1):
        def run(k):
            for i in range(k):
                if i % every == 0:
                    kept.append(make())
        return run

    for what, run in [("list slot", leak(lambda: None)), ("object", leak(object)),
                      ("16-byte bytes", leak(lambda: b"0123456789abcdef")),
                      ("object every 4th call", leak(object, every=4))]:
        growth, per_window = _traced_growth(run, 40000, warmup=500)
        assert TRACED.verdict(growth, per_window), \
            f"tracemalloc check missed a leak of one {what} per call: {growth}"
        kept.clear()

    cache = {}

    def fills_then_stops(k):
        for _ in range(k):
            cache.setdefault(len(cache) % 3000, bytes(40))   # full within the first window
            try:
                raise ValueError("x")
            except ValueError:
                pass
    growth, per_window = _traced_growth(fills_then_stops, 40000, warmup=500)
    assert TRACED.verdict(growth, per_window) is None

    if _malloc_in_use() is not None:
        libc = ctypes.CDLL(None)
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]
        blocks = []
        try:
            growth = _window_growth(lambda k: blocks.extend(libc.malloc(64) for _ in range(k)),
                                    _malloc_in_use, 6, 500)
        finally:
            for b in blocks:
                libc.free(b)
        assert C_HEAP.verdict(growth, 500), \
            f"C heap check missed a leak of 64 bytes per call: {growth}"

    if os.path.exists("/proc/self/statm") and not _under_asan():
        # 64 KiB of written pages per call, each block a fresh anonymous mapping: a malloc'd
        # block may reuse heap pages that are already resident (after earlier tests freed
        # large arrays), and then the RSS does not grow at all
        def touched_pages():
            m = mmap.mmap(-1, 1 << 16)
            for off in range(0, 1 << 16, mmap.PAGESIZE):
                m[off] = 1
            return m

        pages = []
        growth = _window_growth(lambda k: pages.extend(touched_pages() for _ in range(k)),
                                _rss, 6, 50)
        for m in pages:
            m.close()
        pages.clear()
        assert RSS.verdict(growth, 50), f"RSS check missed a leak of 64 KiB per call: {growth}"


@pytest.mark.parametrize("table", ["good", "error"])
@pytest.mark.parametrize("name", _params(GOOD))
def test_no_growth_tracemalloc(name, table):
    """After a warm-up of 10^4 calls: over CALLS calls the C heap does not grow, over CALLS
    more Python allocations (tracemalloc) do not grow (the growth check above), and over
    all of them the reference counts of the caller's arrays do not change."""
    t = GOOD if table == "good" else BAD
    _run(name, t, 500)
    refs = _refcounts(name, t)
    _run(name, t, 10000)
    if _malloc_in_use() is not None:
        heap = _window_growth(lambda k: _run(name, t, k), _malloc_in_use, WINDOWS,
                              max(CALLS // WINDOWS, 1))
        verdict = C_HEAP.verdict(heap, max(CALLS // WINDOWS, 1))
        assert verdict is None, f"{name} ({table} path), C heap: {verdict}"
    growth, per_window = _traced_growth(lambda k: _run(name, t, k), CALLS, warmup=0)
    assert _refcounts(name, t) == refs, f"{name} ({table} path): reference counts changed"
    verdict = TRACED.verdict(growth, per_window)
    assert verdict is None, f"{name} ({table} path), traced memory: {verdict}"


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
@pytest.mark.skipif(_under_asan(), reason="under ASan the RSS follows ASan's allocator "
                    "(quarantine), not the program; this test runs unsanitized in CI")
@pytest.mark.parametrize("table", ["good", "error"])
def test_no_growth_rss(table):
    """RSS and the C heap over all functions (C allocations included), with arrays large
    enough (64 K elements, which also start the core's threads) that a leaked buffer per
    call shows in the RSS; the C heap, where glibc counts it, shows any leaked block."""
    rng = np.random.default_rng(2)
    n = 1 << 16
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < 0.5)
    p = rng.uniform(size=n)
    bad_p = p.copy()
    bad_p[-1] = 1.5
    calls = []
    for name in sorted(set(GOOD)):
        if not hasattr(cbce, name):
            continue
        f = getattr(cbce, name)
        xin = p if name.startswith("binary_cross_entropy") and "logits" not in name else x
        if table == "error":
            if xin is p:
                calls.append((f, (bad_p, y), dict(num_threads=2)))
            elif name in ("sigmoid", "log_sigmoid", "softplus"):
                calls.append((f, (x,), dict(out=np.empty(3))))
            else:
                calls.append((f, (x, y), dict(weight=np.ones(7), num_threads=2)))
        elif name in ("sigmoid", "log_sigmoid", "softplus"):
            calls.append((f, (x,), {}))
        else:
            calls.append((f, (xin, y), dict(num_threads=2)))
    rounds = max(CALLS // 2400, 5)           # rounds of all functions per window

    def run(k):
        for _ in range(k):
            for f, a, kw in calls:
                try:
                    f(*a, **kw)
                except ValueError:
                    assert table == "error"

    run(20)                                  # warm-up
    have_c_heap = _malloc_in_use() is not None
    both = _window_growth(run, lambda: (_rss(), _malloc_in_use() or 0), 6, rounds)
    per_window = rounds * len(calls)
    rss = [r for r, _ in both]
    verdict = RSS.verdict(rss, per_window)
    assert verdict is None, f"{table} path, RSS: {verdict}"
    if have_c_heap:
        heap = [c for _, c in both]
        verdict = C_HEAP.verdict(heap, per_window)
        assert verdict is None, f"{table} path, C heap: {verdict}"


# ---- more than 2^31 elements --------------------------------------------------------------

def _available_bytes():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


P = 1 << 16          # period of the value pattern
N = (1 << 31) + 5    # elements


def _pattern():
    """One period of logits (float32) and targets (uint8), 4 and 1 bytes an element."""
    i = np.arange(P, dtype=np.int64)
    x = (((i * 2654435761) % 65521) / 65521.0 * 40.0 - 20.0).astype(np.float32)
    y = ((i * 40503) % 7 < 3).astype(np.uint8)
    return x, y


def _ref_loss(x, y):
    """float64 BCE with logits, the cancellation-free form (x is float32, exact in float64)."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    return np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))


def _ref_grad(x, y):
    """sigmoid(x) - y without cancellation for hard labels."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, (1 - y) - e / (1 + e), e / (1 + e) - y)


@pytest.mark.slow  # deselected unless asked for (conftest.py)
@pytest.mark.skipif((_available_bytes() or 1 << 40) < 14 << 30,
                    reason="needs 14 GB of available memory")
def test_more_than_2_31_elements():
    px, py = _pattern()
    x = np.empty(N, np.float32)
    y = np.empty(N, np.uint8)
    for s in range(0, N, P):                     # the pattern, chunk by chunk
        k = min(P, N - s)
        x[s:s + k] = px[:k]
        y[s:s + k] = py[:k]
    # elements past 2^31 that an int32 index would alias to others: large losses there
    special = {(1 << 31) - 1: (-500.0, 1), 1 << 31: (300.0, 0), N - 1: (-1000.0, 1),
               N - 3: (-777.0, 1), 0: (250.0, 0)}
    for i, (xv, yv) in special.items():
        x[i], y[i] = xv, yv

    # the reference sum: whole periods of the pattern, the tail, the special elements
    lp = _ref_loss(px, py)
    full, tail = divmod(N, P)
    ref = math.fsum(lp) * full + math.fsum(lp[:tail])
    for i, (xv, yv) in special.items():
        ref += float(_ref_loss(np.array([xv], np.float32), np.array([yv]))[0]) - \
            float(lp[i % P])

    s = cbce.binary_cross_entropy_with_logits(x, y, reduction="sum", num_threads=2)
    assert s.dtype == np.float32
    assert abs(float(s) - ref) <= 2 * np.spacing(np.float32(ref)), (float(s), ref)
    m = cbce.binary_cross_entropy_with_logits(x, y, reduction="mean", num_threads=2)
    assert abs(float(m) - ref / N) <= 2 * np.spacing(np.float32(ref / N)), (float(m), ref / N)
    # a periodic weight over a 2-D view: (N / 5 ... ) is not whole, so use the flat (N,) and
    # a scalar weight: the weighted mean of a constant weight is the mean
    wm = cbce.binary_cross_entropy_with_logits(x, y, reduction="weighted_mean",
                                               weight=np.float32(3.0), num_threads=2)
    assert wm == m, (wm, m)
    # the same sum from one thread (bitwise: the reduction tree depends on n only)
    s1 = cbce.binary_cross_entropy_with_logits(x, y, reduction="sum", num_threads=1)
    assert s1 == s, (s1, s)

    # the gradient in place (no second 8 GB array), spot-checked around 2^31 and at random
    rng = np.random.default_rng(0)
    idx = np.unique(np.concatenate([
        np.array(sorted(special)), np.arange((1 << 31) - 4, (1 << 31) + 5),
        np.arange(N - 6, N), rng.integers(0, N, 200)]))
    xs, ys = x[idx].copy(), y[idx].copy()
    g = cbce.binary_cross_entropy_with_logits_backward(x, y, reduction="none", out=x,
                                                       num_threads=2)
    assert g is x
    want = _ref_grad(xs, ys)
    got = x[idx].astype(np.float64)
    err = np.abs(got - want) / np.maximum(np.abs(want), 2.0**-126)
    bad = err > 2.0**-23
    assert not np.any(bad), [(int(i), float(a), float(b)) for i, a, b in
                             zip(idx[bad], got[bad], want[bad])][:5]
