"""`python -m cbce` and `python -m cbce bench` (src/cbce/_bench.py) run, print what the docs
(getting started, performance) say they print, and compare like with like: each peer
computes the same loss and gradient as cbce on the benchmark's data (checked against cbce,
which the accuracy tests check against the reference).  No timing is asserted here: speed lives in the benchmark itself and in asv."""
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import cbce
from cbce import _bench


def test_python_m_cbce_prints_config_and_a_table():
    r = subprocess.run([sys.executable, "-m", "cbce"], capture_output=True, text=True,
                       timeout=300, env=dict(os.environ))
    assert r.returncode == 0, r.stderr[-2000:]
    assert re.search(r"^simd: \S+", r.stdout, re.M), r.stdout
    assert re.search(r"^float32 +1000000 cbce +[0-9.]+ +[0-9.]+ +1\.00 +1\.00$", r.stdout,
                     re.M), r.stdout


def test_bench_table_rows_and_ratios():
    """One row per library and case; a peer's ratio is its time over cbce's (the columns
    before it), cbce's own is 1."""
    buf = io.StringIO()
    _bench.report(sizes=(1000, 5000), dtypes=("float32", "float64"), min_time=0.01, file=buf)
    rows = [line.split() for line in buf.getvalue().splitlines()
            if re.match(r"^float(32|64) ", line)]
    cases = {}
    for dt, n, lib, f, b, rf, rb in rows:
        cases.setdefault((dt, n), {})[lib] = tuple(map(float, (f, b, rf, rb)))
    assert sorted(cases) == [(dt, n) for dt in ("float32", "float64") for n in ("1000", "5000")]
    for case, libs in cases.items():
        assert "cbce" in libs and "numpy" in libs, f"{case}: rows {sorted(libs)}"
        cf, cb, _, _ = libs["cbce"]
        assert libs["cbce"][2:] == (1.0, 1.0), f"{case}: cbce's ratio {libs['cbce'][2:]}"
        for lib, (f, b, rf, rb) in libs.items():
            assert f > 0 and b > 0, f"{case} {lib}: times {f}, {b}"
            # printed with 2 decimals: the ratio agrees with the printed times to rounding
            assert abs(rf - f / cf) <= 0.01 + 0.01 * rf / cf + 0.005 * rf * (1 / f + 1 / cf), \
                f"{case} {lib}: forward ratio {rf}, times {f} / {cf}"
            assert abs(rb - b / cb) <= 0.01 + 0.01 * rb / cb + 0.005 * rb * (1 / b + 1 / cb), \
                f"{case} {lib}: fused ratio {rb}, times {b} / {cb}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_peers_compute_the_same_loss_and_gradient(dtype):
    """The benchmark's peers are timed on the same quantity as cbce: the mean BCE with
    logits and its gradient (NumPy's plain formula loses accuracy at large |x|, not at the
    benchmark's x ~ N(0, 16))."""
    rng = np.random.default_rng(0)
    n = 4096
    x = (rng.standard_normal(n) * 4).astype(dtype)
    y = (rng.random(n) < 0.5).astype(dtype)
    want_loss, want_grad = cbce.binary_cross_entropy_with_logits_forward_backward(x, y)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    def arr(v):  # NumPy, or a torch/JAX array (torch's may require grad)
        return np.asarray(v.detach() if hasattr(v, "detach") else v)

    found = []
    for name, make in _bench.PEERS.items():
        fns = make(x, y)
        if fns is None:
            continue
        found.append(name)
        loss = float(arr(fns[0]()))
        assert abs(loss - float(want_loss)) <= tol * abs(float(want_loss)), \
            f"{name} forward: {loss} vs cbce {float(want_loss)}"
        out = fns[1]()
        if name == "sklearn":  # per-element (loss, gradient): the mean and grad / n
            loss_b, grad = float(np.mean(out[0])), arr(out[1]) / n
        else:
            loss_b, grad = float(arr(out[0])), arr(out[1])
        assert abs(loss_b - float(want_loss)) <= tol * abs(float(want_loss)), \
            f"{name} fused forward: {loss_b} vs cbce {float(want_loss)}"
        err = np.max(np.abs(grad - want_grad) / (np.abs(want_grad) + 1e-30 + 1 / n))
        assert err <= 1e3 * tol, f"{name} gradient: max relative difference {err:.3g}"
    assert "numpy" in found


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_family_peers_compute_the_same_quantities(dtype):
    """The families table times PyTorch's formula of the quantity cbce computes: each
    peer's mean loss and its autograd gradient agree with cbce's (forward and backward with
    the defaults of cbce's signatures) on the benchmark's data."""
    torch = pytest.importorskip("torch")  # a test peer (requirements-test.txt)
    import torch.nn.functional as F
    peers = _bench._torch_family_peers(torch, F)
    assert sorted(peers) == sorted(_bench.FAMILY_CASES)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(4096) * 4).astype(dtype)
    y = (rng.random(4096) < 0.5).astype(dtype)
    prob = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for case in _bench.FAMILY_CASES:
        data = prob if case == "binary_cross_entropy" else x
        xr = torch.from_numpy(data.copy()).requires_grad_(True)
        if case in ("sigmoid", "log_sigmoid", "softplus"):
            got, want = peers[case](xr).detach().numpy(), getattr(cbce, case)(data)
            err = np.max(np.abs(got - want) / (np.abs(want) + 1e-30))
            assert err <= tol, f"{case} {np.dtype(dtype)}: max relative difference {err:.3g}"
            continue
        loss = peers[case](xr, torch.from_numpy(y))
        loss.backward()
        loss = loss.detach()
        want_loss, want_grad = getattr(cbce, case + "_forward_backward")(data, y)
        assert abs(float(loss) - float(want_loss)) <= tol * abs(float(want_loss)), \
            f"{case} {np.dtype(dtype)}: loss {float(loss)} vs cbce {float(want_loss)}"
        grad = xr.grad.numpy()
        err = np.max(np.abs(grad - want_grad)) / np.max(np.abs(want_grad))
        assert err <= tol, f"{case} {np.dtype(dtype)}: gradient differs by {err:.3g} (normwise)"


def test_families_table_rows_and_ratios():
    pytest.importorskip("torch")  # the table's ratios are to PyTorch's formulas
    buf = io.StringIO()
    _bench.report_families(n=2000, dtypes=("float32", "float64"), min_time=0.01, file=buf)
    rows = [line.split() for line in buf.getvalue().splitlines()
            if line.split() and line.split()[0] in _bench.FAMILY_CASES]
    assert sorted((r[0], r[1]) for r in rows) == sorted(
        (c, d) for c in _bench.FAMILY_CASES for d in ("float32", "float64")), rows
    for r in rows:
        fused = r[0] not in ("sigmoid", "log_sigmoid", "softplus")
        assert float(r[2]) > 0 and float(r[4]) > 0 and float(r[6]) > 0, r
        assert (r[3] != "-") == fused and (r[5] != "-") == fused and (r[7] != "-") == fused, r


def test_threads_and_memory_lines():
    one, two = _bench.threads(n=200_000, min_time=0.01)
    assert one > 0 and two > 0
    peak, need = _bench.peak_memory(n=200_000)
    assert need == 200_000 * 4 and peak >= need, (peak, need)


def test_unknown_command_exits_2_and_says_so():
    r = subprocess.run([sys.executable, "-m", "cbce", "foo"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "unknown command 'foo'" in r.stderr, r.stderr
    assert "usage: python -m cbce" in r.stderr, r.stderr


def test_without_torch_no_torch_advice():
    """With torch not importable, `python -m cbce` runs and its table names no torch."""
    code = ("import sys, runpy\n"
            "class NoTorch:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'torch':\n"
            "            raise ImportError('torch hidden by the test')\n"
            "sys.meta_path.insert(0, NoTorch())\n"
            "runpy.run_module('cbce', run_name='__main__')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "torch" not in r.stdout, r.stdout
    assert not re.search(r"^float32 +1000000 torch ", r.stdout, re.M), r.stdout


def test_header_names_machine_simd_and_versions():
    env = _bench.environment()
    line = _bench.header(env)
    assert env["simd"] == cbce._core.SIMD_LEVEL
    assert env["versions"]["cbce"] == cbce.__version__
    assert env["versions"]["numpy"] == np.__version__
    assert line.startswith("# ") and f"cbce SIMD {env['simd']}" in line, line
    assert f"numpy {np.__version__}" in line and f"{env['cores']} cores" in line, line
    buf = io.StringIO()
    _bench.report(sizes=(1000,), dtypes=("float32",), min_time=0.01, file=buf)
    assert buf.getvalue().splitlines()[0] == line, buf.getvalue()


def test_bench_json_has_every_case_at_one_and_two_threads():
    buf = io.StringIO()
    _bench.report_json(sizes=(1000, 3000), dtypes=("float32", "float64"), threads=(1, 2),
                       min_time=0.01, file=buf)
    doc = json.loads(buf.getvalue())
    assert doc["environment"]["versions"]["cbce"] == cbce.__version__
    rows = doc["results"]
    libs = {r["library"] for r in rows}
    assert {"cbce", "numpy"} <= libs, libs
    for k in (1, 2):
        for dt in ("float32", "float64"):
            for n in (1000, 3000):
                case = [r for r in rows if (r["threads"], r["dtype"], r["n"]) == (k, dt, n)]
                assert {r["library"] for r in case} == libs, (k, dt, n, case)
                for r in case:
                    assert r["forward_s"] > 0 and r["forward_backward_s"] > 0, r


def test_bench_json_command_rejects_extra_arguments():
    from cbce.__main__ import main
    assert main(["bench", "--json", "extra"]) == 2
    assert main(["bench", "--jsn"]) == 2
