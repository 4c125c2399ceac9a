"""Shared fixtures for the cbce tests, and the end-of-run table of measured ulp errors.

The accuracy tests record the largest error they measure with ``reference.report_ulp``; the
table is printed in the terminal summary (no ``-s`` needed) so the figures can be quoted.
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # `import reference` from any rootdir

import reference  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` run only when asked for (``-m slow``, or ``CBCE_SLOW=1``, as
    .ci/hardening.sh does); otherwise they are deselected, and pytest reports them so."""
    mark = config.getoption("-m") or ""
    if ("slow" in mark and "not slow" not in mark) or os.environ.get("CBCE_SLOW") == "1":
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.fixture
def rng(request):
    """A generator seeded from the test's name: reproducible, different per test."""
    seed = sum(request.node.nodeid.encode()) * 7919 % (2**32)
    return np.random.default_rng(seed)


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def float_dtype(request):
    return np.dtype(request.param)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not reference.ULP_REPORT:
        return
    tr = terminalreporter
    tr.section("cbce: max error measured (ulp)")
    width = max(len(k) for k in reference.ULP_REPORT)
    tr.write_line(f"{'case'.ljust(width)}  {'max ulp':>12}  {'bound':>6}")
    for key in sorted(reference.ULP_REPORT):
        value, bound = reference.ULP_REPORT[key]
        flag = "" if value <= bound else "   <-- over the bound"
        tr.write_line(f"{key.ljust(width)}  {value:12.4g}  {bound:6g}{flag}")
