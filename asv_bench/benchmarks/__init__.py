"""cbce benchmark suite (asv).  Organised like NumPy's: one module per function family,
small parametrised classes, data made in ``setup``, one-line timing methods.

    bench_logits       BCE with logits: forward, backward, fused, grad-hess; sizes 10^3..10^7,
                       threads, memory layout, options, target dtypes, classes, peak memory
    bench_probs        BCE on probabilities
    bench_focal        sigmoid focal loss
    bench_elementwise  sigmoid, log_sigmoid, softplus
    bench_registry     every family of the registry: four operations, speed ratio to BCE
                       with logits (the figure a new loss must keep within 1.5)
    bench_baselines    the same work done by plain NumPy, and by PyTorch where installed
    bench_accuracy     track_: max ulp error over the 80-digit reference CSVs, SIMD level

On import, the SIMD level cbce runs at (and the core count) is printed once per
benchmarked commit (asv imports the suite in many processes; a lock file keyed by the
parent process and the installed build keeps it to one visible print).
"""
import os
import sys
import tempfile


def _config_text():
    try:
        import cbce
    except Exception as exc:  # the package of this commit did not build/import
        return f"cbce: import failed: {exc!r}"
    from .common import ALL_CORES, simd_level
    version = getattr(cbce, "__version__", "?")
    return (f"cbce {version}: SIMD level {simd_level()}, {ALL_CORES} core(s) available, "
            f"CBCE_SIMD={os.environ.get('CBCE_SIMD', 'auto')}, "
            f"CBCE_NUM_THREADS={os.environ.get('CBCE_NUM_THREADS', 'unset')}")


def _build_stamp():
    """Identifies the cbce build installed (asv reinstalls it for each commit)."""
    try:
        import cbce
        core = getattr(cbce, "_core", cbce)
        return f"{core.__file__}:{os.stat(core.__file__).st_mtime_ns}"
    except Exception:
        return "none"


def _printed_already(name="cbce_asv_config.lock", times=2):
    """True once this asv run has printed the configuration of this build ``times`` times.

    asv imports the suite first to discover the benchmarks (its output is not shown), then
    in the process that runs them (one per commit with the forkserver launcher, one per
    benchmark with spawn): allowing two prints per (asv process, build) shows it once per
    benchmarked commit.  The same trick as NumPy's benchmarks/__init__.py.
    """
    ppid = os.getppid() if hasattr(os, "getppid") else 0
    if not ppid or ppid == os.getpid():
        return False
    key = f"{ppid}:{_build_stamp()}"
    path = os.path.join(tempfile.gettempdir(), name)
    try:
        with open(path, "a+") as f:
            f.seek(0)
            old_key, _, count = f.read().strip().rpartition(" ")
            count = int(count) if old_key == key and count.isdigit() else 0
            if count >= times:
                return True
            f.seek(0)
            f.truncate()
            f.write(f"{key} {count + 1}")
    except OSError:
        return False
    return False


if not _printed_already():
    text = _config_text()
    if "SHELL" in os.environ and sys.platform != "win32":
        print(f"\033[33m{text}\033[0m")
    else:
        print(text)
