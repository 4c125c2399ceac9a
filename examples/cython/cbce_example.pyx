# cython: language_level=3, boundscheck=False, wraparound=False
"""A downstream Cython extension calling the cbce C core directly: `cimport cbce`.

The declarations come from cbce.pxd and cbce.h in cbce.get_include(); the code is the C
core's static library, linked into this extension (see setup.py).  No Python object is
touched while the core runs, so the calls release the GIL.
"""
cimport cbce
from libc.string cimport memset


def version():
    """The version of the C core linked in, and of the header compiled against."""
    return (cbce.cbce_version_string().decode(),
            f"{cbce.CBCE_VERSION_MAJOR}.{cbce.CBCE_VERSION_MINOR}.{cbce.CBCE_VERSION_PATCH}")


cdef void _check(int status) except *:
    if status != cbce.CBCE_OK:
        raise ValueError(f"cbce: {cbce.cbce_status_string(status).decode()} (status {status})")


def bce_with_logits(const double[::1] x, const double[::1] y, str reduction="mean"):
    """Mean (or sum) binary cross-entropy with logits of two float64 buffers."""
    cdef cbce.cbce_args_t a
    cdef double result = 0.0
    cdef int status
    cdef size_t n = x.shape[0]
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"x has {x.shape[0]} elements, y {y.shape[0]}")
    memset(&a, 0, sizeof(a))
    a.size = sizeof(a)
    a.n = n
    a.input = cbce.cbce_vector(&x[0] if n else NULL, cbce.CBCE_F64, n, 1)
    a.target = cbce.cbce_vector(&y[0] if n else NULL, cbce.CBCE_F64, n, 1)
    a.reduction = {"sum": cbce.CBCE_REDUCTION_SUM, "mean": cbce.CBCE_REDUCTION_MEAN}.get(
        reduction, -1)
    with nogil:
        status = cbce.cbce_bce_logits_fwd_f64(&a, NULL, 0, &result)
    _check(status)
    return result


def sigmoid_(double[::1] x):
    """sigmoid(x), in place."""
    cdef size_t n = x.shape[0]
    if n == 0:
        return
    with nogil:
        status = cbce.cbce_sigmoid_f64(n, &x[0], 1, &x[0], 1)
    _check(status)
