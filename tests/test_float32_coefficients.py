"""The float32 exp/log1p coefficients of src/cbce/core/math/scalar.h are what tools/fit_float32.py
fits (bit for bit), and the fit errors are those the comments state: editing a coefficient
without refitting (or refitting without updating the comments) fails here.

The fit itself is checked against independent computations: the Pade coefficients against
mpmath.pade of exp's Taylor series, the log1p polynomial's error against a dense NumPy scan.
The whole fit takes about a second (the 3000-point Remez converges in two exchanges).
"""
import math
import os
import sys

import mpmath
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "tools"))

import fit_float32  # noqa: E402


@pytest.fixture(scope="module")
def fit():
    return fit_float32.fit_all()


@pytest.fixture(scope="module")
def header():
    with open(fit_float32.HEADER) as fh:
        return fh.read()


def test_header_matches_the_fit(fit, header):
    coeffs, errors, _ = fit
    problems = fit_float32.compare(coeffs, errors, header)
    assert not problems, "math/scalar.h vs tools/fit_float32.py:\n" + "\n".join(problems)


def test_every_float32_coefficient_is_checked(fit, header):
    """Every CBCE__EP* and CBCE__LQ* of the header is among the fitted ones."""
    defined, _ = fit_float32.parse_header(header)
    names = {n for n in defined if n[:2] in ("EP", "LQ") and n[2:].isdigit()}
    assert names and names <= set(fit[0]), f"not fitted: {sorted(names - set(fit[0]))}"


@pytest.mark.parametrize("name", ["INV_LN2", "EP1", "EP2", "EP3", "EP4", "LQ0", "LQ1", "LQ2",
                                  "LQ3", "LQ4", "LQ5", "LQ6"])
def test_a_one_ulp_edit_is_caught(fit, header, name):
    coeffs, errors, _ = fit
    old = coeffs[name].hex()
    assert f"#define CBCE__{name} {old}" in header
    new = (coeffs[name] + math.ulp(coeffs[name])).hex()
    problems = fit_float32.compare(coeffs, errors,
                                   header.replace(f"#define CBCE__{name} {old}",
                                                  f"#define CBCE__{name} {new}"))
    assert any(p.startswith(f"CBCE__{name}:") for p in problems), problems


def test_a_changed_error_comment_is_caught(fit, header):
    coeffs, errors, _ = fit
    _, stated = fit_float32.parse_header(header)
    old = f"relative error 2^{stated['log1p fit']})"
    assert old in header
    problems = fit_float32.compare(coeffs, errors, header.replace(old, "relative error 2^-39.0)"))
    assert any(p.startswith("log1p fit:") for p in problems), problems


def test_pade_numbers_are_mpmaths_pade_of_exp():
    with mpmath.workdps(40):
        p, q = mpmath.pade(mpmath.taylor(mpmath.exp, 0, 8), 4, 4)
        ln2 = mpmath.log(2)
        for k in range(1, 5):
            assert abs(q[k] - (-1) ** k * p[k]) < 1e-30  # the form P(x)/P(-x)
            want = float(p[k] * ln2 ** k)  # mpmath's float() rounds to nearest
            assert fit_float32.exp_coefficients()[f"EP{k}"] == want, f"EP{k}"


def test_log1p_fit_error_by_a_numpy_scan(fit):
    """The relative error of the double-coefficient Q on 200001 uniform points of [0, 1/9],
    in float64 (its own rounding, ~1e-16, is 4e-5 of the 2.5e-12 measured): the same
    2^-38.53 as the 60-digit measurement, and never above it by more than the scan's noise."""
    coeffs, errors, _ = fit
    c = [coeffs[f"LQ{j}"] for j in range(fit_float32.LQ_DEGREE + 1)]
    w = np.linspace(0.0, 1.0 / 9.0, 200001)[1:]
    s = np.sqrt(w)
    q = 2 * np.arctanh(s) / s
    err = np.max(np.abs(np.polynomial.polynomial.polyval(w, c) / q - 1))
    assert abs(math.log2(err) - math.log2(float(errors["log1p fit"]))) < 1e-3, math.log2(err)


def test_exp_fit_error_by_a_numpy_scan(fit):
    coeffs, errors, _ = fit
    f = np.linspace(-0.5, 0.5, 100001)
    f2 = f * f
    e = 1 + f2 * (coeffs["EP2"] + coeffs["EP4"] * f2)
    xo = f * (coeffs["EP1"] + coeffs["EP3"] * f2)
    err = np.max(np.abs((e + xo) / (e - xo) / np.exp2(f) - 1))
    assert abs(math.log2(err) - math.log2(float(errors["exp fit"]))) < 1e-3, math.log2(err)
