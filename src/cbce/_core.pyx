# cython: language_level=3, boundscheck=False, wraparound=False
"""NumPy bindings of the cbce C core.

This layer only validates, describes the caller's buffers to the core without copying
them, allocates outputs, releases the GIL (but for short calls) and calls the core.  It does no arithmetic on
the data.  A copy is made only where the core cannot read a buffer as it is:
  * float16 input (computed in float32, the result rounded back to float16);
  * targets of a dtype other than bool/uint8/int8/float32/float64 (converted to the input's);
  * weight/pos_weight of another dtype (converted), or broadcast in a pattern that is not
    one period/repeat (materialised);
  * arrays that cannot be viewed as one strided line in C order (e.g. Fortran-ordered 2-D),
    non-native byte order, unaligned buffers.
Outputs that cannot be written in place (float16, overlapping an input, not one strided
line) are computed into a temporary and copied into `out`.
"""
import numbers
import inspect
import os

cimport cython

import numpy as np
cimport numpy as cnp
from libc.stddef cimport ptrdiff_t

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    # in NumPy's C API, not declared by numpy's .pxd (commented out there)
    object _array_scalar "PyArray_Scalar"(void *data, cnp.dtype descr, object base)

# The C API, declared once: the same cbce.pxd that is shipped for other extensions.
from cbce.cbce cimport *


__version__ = cbce_version_string().decode()
C_VERSION_NUMBER = cbce_version_number()

# ---- the loss families (registry.h, as the generated cbce._registry) -------------------

from cbce._registry import FAMILIES, PARAMS
from cbce import _docs

cdef extern from "internal.h":
    enum:
        CBCE__OP_FWD
        CBCE__OP_BWD
        CBCE__OP_FWD_BWD
        CBCE__OP_GRAD_HESS
        CBCE__HELPER_SIGMOID
        CBCE__HELPER_LOG_SIGMOID
        CBCE__HELPER_SOFTPLUS
    const size_t cbce__param_offsets[]
    int cbce__call(int family, int op, int dtype, const cbce_args_t *a, void *o1,
                   ptrdiff_t s1, void *result, void *o2, ptrdiff_t s2,
                   size_t *bad_index) noexcept nogil
    int cbce__check_family(int family, const cbce_args_t *a) noexcept
    int cbce__helper(int which, int simd, int dtype, size_t n, const void *x,
                     ptrdiff_t x_stride, void *out, ptrdiff_t out_stride) noexcept nogil

_FAMILY_NUMBER = {f["name"]: i for i, f in enumerate(FAMILIES)}
# name -> (offset in cbce_args_t, kind, message)
_PARAM_SLOT = {name: (cbce__param_offsets[i], p[3], p[4]) for i, (name, p) in
               enumerate(PARAMS.items())}
_PARAM_OF_STATUS = {p[0]: name for name, p in PARAMS.items()}

REDUCTIONS = {"none": CBCE_REDUCTION_NONE, "sum": CBCE_REDUCTION_SUM,
              "mean": CBCE_REDUCTION_MEAN, "weighted_mean": CBCE_REDUCTION_WEIGHTED_MEAN}

cdef object _F32 = np.dtype(np.float32), _F64 = np.dtype(np.float64)
cdef double _NAN = float("nan")
# Calls on fewer elements keep the GIL (about 2 us of work at most; releasing and taking
# it back costs ~0.1 us, and another Python thread could not do much meanwhile).
cdef size_t _NOGIL_MIN = 4096


cdef int _target_code(cnp.ndarray t):
    """The core's dtype code of a native-order target array, or -1 (to be converted)."""
    if not cnp.PyArray_ISNOTSWAPPED(t):
        return -1
    cdef int tn = cnp.PyArray_TYPE(t)
    if tn == cnp.NPY_BOOL:
        return CBCE_BOOL
    if tn == cnp.NPY_UINT8:
        return CBCE_U8
    if tn == cnp.NPY_INT8:
        return CBCE_I8
    if tn == cnp.NPY_FLOAT32:
        return CBCE_F32
    if tn == cnp.NPY_FLOAT64:
        return CBCE_F64
    return -1


# ---- SIMD level ------------------------------------------------------------------------

_SIMD_LEVELS = {"auto": 0, "scalar": 1, "baseline": 2, "sse2": 2, "neon": 2, "avx2": 3,
                "avx512": 4}


def _requested_simd():
    """CBCE_SIMD (scalar|baseline|sse2|avx2|avx512|auto), read once at import."""
    name = os.environ.get("CBCE_SIMD", "auto").strip().lower() or "auto"
    if name not in _SIMD_LEVELS:
        raise ImportError(f"CBCE_SIMD={name!r} is not one of {sorted(_SIMD_LEVELS)}")
    return _SIMD_LEVELS[name]


cdef int _simd = _requested_simd()
SIMD_LEVEL = cbce_simd_name(cbce_simd_level(_simd)).decode()
"""The instruction-set level the kernels run at (CBCE_SIMD lowered to what the CPU has)."""


# ---- threads ----------------------------------------------------------------------------

def _default_threads():
    env = os.environ.get("CBCE_NUM_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n >= 1:
            return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, cbce_cpu_count())


_num_threads = _default_threads()


def get_num_threads():
    """The number of threads a call with ``num_threads=None`` uses.

    :func:`set_num_threads`'s value, else the ``CBCE_NUM_THREADS`` environment variable,
    else the cores available to the process.  A call uses at most one thread per 32768
    elements.

    Returns
    -------
    int

    Examples
    --------
    >>> import cbce
    >>> cbce.get_num_threads() >= 1
    True
    """
    return _num_threads


def set_num_threads(n):
    """Set the default thread count of every call with ``num_threads=None``.

    Results do not depend on it: reductions are bitwise the same for every thread count.

    Parameters
    ----------
    n : int in [1, 2**31 - 1]
        ValueError for anything else (0, negative, too large, bool, float, str); the
        previous setting is then kept.

    Examples
    --------
    >>> import cbce
    >>> before = cbce.get_num_threads()
    >>> cbce.set_num_threads(2)
    >>> cbce.get_num_threads()
    2
    >>> cbce.set_num_threads(before)
    """
    global _num_threads
    _num_threads = _check_threads(n)


cdef object _INT_MAX = 2**31 - 1


cdef int _check_threads(n) except -1:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= _INT_MAX:
        raise ValueError(f"num_threads must be an integer in [1, {_INT_MAX}] or None, "
                         f"got {n!r}")
    return int(n)


cdef double _real(value, str name) except? -1.0:
    """A float parameter: a real number (Python or NumPy, or a 0-d real array), not a bool
    or a string."""
    if isinstance(value, np.ndarray) and (<cnp.ndarray>value).ndim == 0 \
            and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    return float(value)


cdef object _asarray(value, str name, int family=-1):
    """`value` as a base-class ndarray (no copy for arrays and their subclasses: np.matrix,
    np.memmap and user subclasses are read as the plain arrays they are views of; objects
    with the array interface or the buffer protocol are wrapped).  Masked arrays are
    refused: the core would read the masked elements' data as values.  A torch tensor that
    requires grad (which NumPy cannot take) given to a loss `family` raises a TypeError
    naming the differentiable alternative; torch is never imported here."""
    if type(value) is cnp.ndarray:
        return value
    if family >= 0 and getattr(value, "requires_grad", False) and \
            type(value).__module__.partition(".")[0] == "torch":
        fn = FAMILIES[family]["python"]
        raise TypeError(f"{name} is a torch.Tensor that requires grad; cbce.{fn} works on "
                        f"NumPy arrays and records no autograd graph: use "
                        f"cbce.integrations.torch.{fn} (differentiable, same arguments), or "
                        f"pass {name}.detach() to get the value only")
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(f"{name} is a numpy.ma.MaskedArray: masks are not applied; pass "
                        f"np.ma.getdata({name}), and to leave the masked elements out, "
                        f"weight=~np.ma.getmaskarray({name}) with reduction='weighted_mean'")
    return np.asarray(value)


# ---- buffer helpers ---------------------------------------------------------------------

cdef object _line(cnp.ndarray a):
    """A 1-D view of `a` in C order with one stride, or None if there is none."""
    if a.ndim == 1:
        return a
    if cnp.PyArray_IS_C_CONTIGUOUS(a):
        return a.reshape(-1)
    try:
        return np.reshape(a, -1, copy=False)
    except (ValueError, TypeError):
        return None


cdef object _readable(cnp.ndarray a):
    """A 1-D array the core can read: a view of `a` when possible, else a C-order copy."""
    cdef object v = _line(a) if (cnp.PyArray_ISNOTSWAPPED(a) and cnp.PyArray_ISALIGNED(a)) \
        else None
    if v is None or cnp.PyArray_STRIDES(<cnp.ndarray>v)[0] % cnp.PyArray_ITEMSIZE(a):
        # a fresh C-order copy, so aligned too (np.ascontiguousarray would hand an
        # unaligned contiguous array back as it is)
        v = np.array(a, order="C").reshape(-1)
        if not v.dtype.isnative:
            v = v.astype(v.dtype.newbyteorder("="))
    return v


cdef void _set_line(cbce_operand_t *op, cnp.ndarray v, int code):
    cdef Py_ssize_t n = cnp.PyArray_DIMS(v)[0]
    op.data = cnp.PyArray_DATA(v)
    op.dtype = code
    op.stride = cnp.PyArray_STRIDES(v)[0] // cnp.PyArray_ITEMSIZE(v) if n > 1 else 0
    op.period = n if n > 0 else 1
    op.repeat = 1


cdef object _broadcastable(value, tuple shape, str name):
    """`value` as an array of a real dtype that broadcasts to `shape` (checks only)."""
    cdef object w = _asarray(value, name)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{name} must have a real dtype, got {w.dtype}")
    try:
        ok = np.broadcast_shapes(w.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name} of shape {w.shape} cannot be broadcast to the input "
                         f"shape {shape}")
    return w


cdef object _broadcast_operand(cbce_operand_t *op, w, tuple shape, dtype):
    """Describe `w` (checked by _broadcastable), broadcast to `shape`, as one operand;
    return the array to keep alive.

    A weight whose non-1 dimensions are consecutive (the common (C,), (N, 1), (1, C, 1)...)
    is read through period/repeat with no broadcast copy.
    """
    w = w.astype(dtype, copy=False)
    cdef Py_ssize_t nd = len(shape), k, first = -1, last = -1, period = 1, repeat = 1
    padded = (1,) * (nd - w.ndim) + w.shape
    for k in range(nd):
        if padded[k] != 1:
            if first < 0:
                first = k
            last = k
    if first < 0:  # one value
        v = _readable(w.reshape(1) if w.size == 1 else w.reshape(-1)[:1])
        _set_line(op, v, CBCE_F64 if w.dtype == np.float64 else CBCE_F32)
        op.stride = 0
        return v
    for k in range(first, last + 1):
        if padded[k] != shape[k]:   # a 1 inside the block: not one period
            v = _readable(np.broadcast_to(w, shape))
            _set_line(op, v, CBCE_F64 if w.dtype == np.float64 else CBCE_F32)
            return v
        period *= shape[k]
    for k in range(last + 1, nd):
        repeat *= shape[k]
    v = _readable(w)
    _set_line(op, v, CBCE_F64 if w.dtype == np.float64 else CBCE_F32)
    op.period = period if period > 0 else 1
    op.repeat = repeat if repeat > 0 else 1
    return v


cdef bint _self_overlapping(a) except -1:
    """Whether two elements of `a` share memory (a zero stride, or strides that make
    elements overlap): such an `out` cannot hold one result per element."""
    cdef Py_ssize_t span = a.itemsize
    if a.size <= 1:
        return False
    dims = sorted((abs(st), n) for st, n in zip(a.strides, a.shape) if n > 1)
    for st, n in dims:
        if st < span:
            break
        span = st * (n - 1) + span
    else:
        return False    # each dimension steps over everything the smaller ones span
    if a.size > 2**24:
        return True     # an interleaved layout too large to check element by element
    offsets = np.zeros(1, np.int64)
    for st, n in dims:
        offsets = (offsets[:, None] + np.arange(n, dtype=np.int64) * st).reshape(-1)
    offsets.sort()
    return bool((np.diff(offsets) < a.itemsize).any())


cdef cnp.ndarray _check_out(out, tuple shape, result_dtype, str name):
    """`out` checked, as a base-class view (an np.matrix or other subclass is written
    through the plain array it is: its own reshape or indexing rules are not used)."""
    if isinstance(out, np.ma.MaskedArray):
        raise TypeError(f"{name} is a numpy.ma.MaskedArray: masks are not applied; pass "
                        f"a plain array")
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(out).__name__}")
    v = out if type(out) is cnp.ndarray else out.view(np.ndarray)
    if v.shape != shape:
        raise ValueError(f"{name} has shape {v.shape}, expected {shape}")
    if v.dtype != result_dtype:
        raise TypeError(f"{name} has dtype {v.dtype}, expected {result_dtype}")
    if not v.flags.writeable:
        raise ValueError(f"{name} is read-only")
    if _self_overlapping(v):
        raise ValueError(f"{name} has elements that share memory (strides {v.strides} for "
                         f"shape {v.shape}): each result needs its own element")
    return v


# ---- the call ---------------------------------------------------------------------------

@cython.no_gc
cdef class _Call:
    """One validated call: the caller's buffers described as core operands.

    Every check that needs no data (the scalar parameters, dtypes, shapes, out=) is made
    by init/set_focal/set_grad_output and at the start of run, before prepare() converts or
    copies any operand, and before the core scans the data (BCE on probabilities).
    """
    cdef cbce_args_t a
    cdef int family
    cdef int f64
    cdef tuple shape
    cdef object result_dtype, compute_dtype
    cdef object x, t, w, pw, go        # arrays kept alive while the core reads them
    cdef object x_in, t_in             # input and target as given (for error messages)
    cdef object w_in, pw_in, go_in     # checked, not yet converted
    cdef size_t bad                    # first out-of-domain element (PROBS)
    cdef dict params                   # the scalar parameters as given

    cdef init(self, int family, input, target, weight, pos_weight, reduction, num_threads):
        cdef cnp.ndarray x, t
        cdef int tn
        self.family = family
        self.a.size = sizeof(cbce_args_t)
        self.a.reduction = CBCE_REDUCTION_NONE
        self.a.simd = _simd
        x = input if type(input) is cnp.ndarray else _asarray(input, "input", family)
        tn = cnp.PyArray_TYPE(x)
        if tn != cnp.NPY_FLOAT32 and tn != cnp.NPY_FLOAT64 and tn != cnp.NPY_FLOAT16:
            raise TypeError(f"input must be float16, float32 or float64, got dtype "
                            f"{x.dtype}")
        self.f64 = tn == cnp.NPY_FLOAT64
        self.compute_dtype = _F64 if self.f64 else _F32
        self.result_dtype = <object>cnp.PyArray_DESCR(x) if cnp.PyArray_ISNOTSWAPPED(x) else \
            x.dtype.newbyteorder("=")
        self.shape = (<object>x).shape
        t = target if type(target) is cnp.ndarray else _asarray(target, "target", family)
        if not cnp.PyArray_SAMESHAPE(t, x):
            raise ValueError(f"target shape {(<object>t).shape} must be the same as input "
                             f"shape {self.shape}")
        if _target_code(t) < 0 and t.dtype.kind not in "biuf":
            raise TypeError(f"target must have a real or bool dtype, got {t.dtype}")
        self.x_in = x
        self.t_in = t
        self.a.n = cnp.PyArray_SIZE(x)
        if weight is not None:
            self.w_in = _broadcastable(weight, self.shape, "weight")
        if pos_weight is not None:
            self.pw_in = _broadcastable(pos_weight, self.shape, "pos_weight")

        if not isinstance(reduction, str) or reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of 'none', 'sum', 'mean', "
                             f"'weighted_mean', got {reduction!r}")
        self.a.reduction = REDUCTIONS[reduction]
        self.a.num_threads = _num_threads if num_threads is None else _check_threads(num_threads)

    cdef set_params(self, dict values):
        """The family's scalar parameters (registry.h) into the arguments; the core checks
        their ranges, and run() names the value given when it refuses one."""
        cdef double v
        cdef size_t offset
        self.params = values
        for name, value in values.items():
            offset, kind, message = _PARAM_SLOT[name]
            if value is None and kind == "or_nan":
                v = _NAN
            else:
                v = value if type(value) is float else _real(value, name)
                if v != v and kind == "or_nan":  # NaN is the core's None: give None
                    raise ValueError(f"{message}, got {value!r}")
            (<double *>(<char *>&self.a + offset))[0] = v

    cdef set_grad_output(self, grad_output):
        if self.a.reduction == CBCE_REDUCTION_NONE:
            if not (type(grad_output) in (int, float) and grad_output == 1.0):
                self.go_in = _broadcastable(grad_output, self.shape, "grad_output")
            return
        go = _asarray(grad_output, "grad_output")
        if go.dtype.kind not in "biuf":
            raise TypeError(f"grad_output must be a real number or array, got "
                            f"{grad_output!r}")
        if go.size != 1:
            raise ValueError(f"grad_output must be a scalar for a reduced loss, got shape "
                             f"{go.shape}")
        self.go_in = go

    cdef prepare(self):
        """Describe the checked operands to the core, converting or copying only those it
        cannot read as they are (see the module docstring)."""
        cdef cnp.ndarray x = self.x_in, t = self.t_in
        cdef int code = _target_code(t)
        if cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT16:
            x = x.astype(np.float32)
        if code < 0:
            # to the same dtype in native order (a swapped float64 target stays float64),
            # else to the input's dtype where that is exact, else to float64
            if t.dtype.newbyteorder("=") in (_F32, _F64):
                t = t.astype(t.dtype.newbyteorder("="))
            elif np.can_cast(t.dtype, self.compute_dtype):
                t = t.astype(self.compute_dtype)
            else:
                t = t.astype(_F64)
            code = _target_code(t)
        self.x = _readable(x)
        _set_line(&self.a.input, self.x, CBCE_F64 if self.f64 else CBCE_F32)
        self.t = _readable(t)
        _set_line(&self.a.target, self.t, code)
        if self.w_in is not None:
            self.w = _broadcast_operand(&self.a.weight, self.w_in, self.shape,
                                        self.compute_dtype)
        if self.pw_in is not None:
            self.pw = _broadcast_operand(&self.a.pos_weight, self.pw_in, self.shape,
                                         self.compute_dtype)
        if self.go_in is None:
            return
        if self.a.reduction == CBCE_REDUCTION_NONE:
            self.go = _broadcast_operand(&self.a.grad_output, self.go_in, self.shape,
                                         self.compute_dtype)
        else:
            # kept in double for every input dtype: the core's scale grad_output / n is then
            # rounded once, so a caller can pass a scale of its own (e.g. 1 / n) unrounded
            self.go = self.go_in.astype(np.float64).reshape(1)
            _set_line(&self.a.grad_output, self.go, CBCE_F64)

    cdef refuse(self, int st):
        """Raise the exception for the core's status st."""
        if st == CBCE_ERR_DOMAIN:
            raise self.domain_error()
        if st in _PARAM_OF_STATUS:
            name = _PARAM_OF_STATUS[st]
            raise ValueError(f"{PARAMS[name][4]}, got {self.params[name]!r}")
        raise ValueError(f"cbce: {cbce_status_string(st).decode()}")

    cdef domain_error(self):
        """The ValueError for the first element outside [0, 1] (flat index self.bad)."""
        idx = np.unravel_index(self.bad, self.shape) if len(self.shape) else ()
        idx = tuple(int(i) for i in idx)
        xv = self.x_in[idx]
        if 0 <= xv <= 1:
            name, v = "target", self.t_in[idx]
        else:
            name, v = "input", xv
        v = v.item() if hasattr(v, "item") else v
        return ValueError(f"binary_cross_entropy: {name} value {v!r} at index {idx} is "
                          f"outside [0, 1] (all elements of input and target must be "
                          f"between 0 and 1)")

    cdef tuple _target(self, cnp.ndarray arr, bint given, list taken):
        """(1-D array the core writes, temp-or-None) for the result array `arr`."""
        cdef object v = None
        if (cnp.PyArray_TYPE(arr) == (cnp.NPY_FLOAT64 if self.f64 else cnp.NPY_FLOAT32)
                and cnp.PyArray_ISNOTSWAPPED(arr) and cnp.PyArray_ISALIGNED(arr)):
            v = _line(arr)
        if v is not None and given:
            for r in [a for a in (self.x, self.t, self.w, self.pw, self.go) if a is not None] + taken:
                if np.may_share_memory(v, r) and not (
                        r is self.x and cnp.PyArray_DATA(<cnp.ndarray>v)
                        == cnp.PyArray_DATA(<cnp.ndarray>r)
                        and (v.strides == r.strides or v.shape[0] <= 1)):
                    v = None
                    break
        if v is None or cnp.PyArray_STRIDES(<cnp.ndarray>v)[0] % cnp.PyArray_ITEMSIZE(arr):
            tmp = np.empty(self.shape, dtype=self.compute_dtype)
            return tmp.reshape(-1), tmp
        return v, None

    cdef object _scalar(self, void *value):
        """The reduced loss (a float or double at `value`) as a NumPy scalar."""
        cdef object r = _array_scalar(value, <cnp.dtype>self.compute_dtype, None)
        return r if self.result_dtype is self.compute_dtype else self.result_dtype.type(r)

    cdef run(self, int op, out1, out2, str name1, str name2):
        """Run `op`; return (loss-or-array1, array2): the caller's `out` objects when given
        (an np.matrix stays one), else new arrays."""
        cdef cnp.ndarray v1 = None, v2 = None, arr1 = None, arr2 = None
        cdef void *p1 = NULL
        cdef void *p2 = NULL
        cdef ptrdiff_t s1 = 0, s2 = 0
        cdef double res64 = 0.0
        cdef float res32 = 0.0
        cdef void *res = NULL
        cdef int st
        tmp1 = tmp2 = None
        reduced = self.a.reduction != CBCE_REDUCTION_NONE and op in (CBCE__OP_FWD, CBCE__OP_FWD_BWD)
        if reduced and out1 is not None:
            raise ValueError(f"{name1} is for reduction='none' only: a reduced loss is "
                             f"returned as a scalar")
        if op != CBCE__OP_BWD and not reduced:
            arr1 = np.empty(self.shape, dtype=self.result_dtype) if out1 is None else \
                _check_out(out1, self.shape, self.result_dtype, name1)
        if op != CBCE__OP_FWD:
            arr2 = np.empty(self.shape, dtype=self.result_dtype) if out2 is None else \
                _check_out(out2, self.shape, self.result_dtype, name2)
        st = cbce__check_family(self.family, &self.a)  # the parameters, before any copy
        if st != CBCE_OK:
            self.refuse(st)
        self.prepare()
        if arr1 is not None:
            v1, tmp1 = self._target(arr1, out1 is not None, [])
            p1 = cnp.PyArray_DATA(v1)
            s1 = cnp.PyArray_STRIDES(v1)[0] // cnp.PyArray_ITEMSIZE(v1)
        if arr2 is not None:
            v2, tmp2 = self._target(arr2, out2 is not None, [v1] if v1 is not None else [])
            p2 = cnp.PyArray_DATA(v2)
            s2 = cnp.PyArray_STRIDES(v2)[0] // cnp.PyArray_ITEMSIZE(v2)
        if reduced:
            res = <void *>&res64 if self.f64 else <void *>&res32
        cdef int dtype = CBCE_F64 if self.f64 else CBCE_F32
        if self.a.n < _NOGIL_MIN:   # a short call: releasing the GIL would cost more
            st = cbce__call(self.family, op, dtype, &self.a, p1, s1, res, p2, s2, &self.bad)
        else:
            with nogil:
                st = cbce__call(self.family, op, dtype, &self.a, p1, s1, res, p2, s2,
                                &self.bad)
        if st != CBCE_OK:
            self.refuse(st)
        if tmp1 is not None or tmp2 is not None:
            with np.errstate(over="ignore"):  # float16: rounding past 65504 gives inf, rightly
                if tmp1 is not None:
                    arr1[...] = tmp1
                if tmp2 is not None:
                    arr2[...] = tmp2
        r1 = self._scalar(res) if reduced else (arr1 if out1 is None else out1)
        return r1, (arr2 if out2 is None else out2)


def _loss(str family, int op, input, target, weight, pos_weight, reduction,
          grad_output, num_threads, out, dict params, tuple mean_denominator=None):
    """Run operation `op` of a registry family: every loss function is this call.

    mean_denominator, private: ``(hi, lo)``, a larger array's n or weight sum as a
    double-double, for a "mean"/"weighted_mean" call on one shard of it (cbce.h,
    cbce_args_t.mean_denominator); cbce.integrations.dask passes it."""
    cdef _Call c = _Call.__new__(_Call)
    c.init(_FAMILY_NUMBER[family], input, target, weight, pos_weight, reduction, num_threads)
    c.set_params(params)
    if mean_denominator is not None:
        c.a.mean_denominator, c.a.mean_denominator_lo = mean_denominator
    if op == CBCE__OP_FWD:
        return c.run(op, out, None, "out", "out")[0]
    if op == CBCE__OP_BWD:
        c.set_grad_output(grad_output)
        return c.run(op, None, out, "out", "out")[1]
    o1, o2 = _pair(out)
    if o1 is not None and op == CBCE__OP_FWD_BWD and c.a.reduction != CBCE_REDUCTION_NONE:
        raise ValueError("out[0] must be None for a reduced loss")
    return c.run(op, o1, o2, "out[0]", "out[1]")


# ---- the loss functions: one per registry family and operation ---------------------------

_SUFFIX_OPS = (("", CBCE__OP_FWD), ("_backward", CBCE__OP_BWD),
               ("_forward_backward", CBCE__OP_FWD_BWD), ("_grad_hess", CBCE__OP_GRAD_HESS))


def _signature(dict fam, int op):
    """The Python signature of operation `op` of a registry family (API.md's order: weight,
    then the family's parameters, pos_weight, reduction, label_smoothing, grad_output)."""
    P = inspect.Parameter
    ps = [P("input", P.POSITIONAL_OR_KEYWORD), P("target", P.POSITIONAL_OR_KEYWORD),
          P("weight", P.POSITIONAL_OR_KEYWORD, default=None)]
    kw = [(n, d) for n, d in fam["params"] if n != "label_smoothing"]
    if fam["pos_weight"]:
        kw.append(("pos_weight", None))
    if op != CBCE__OP_GRAD_HESS:
        kw.append(("reduction", "mean"))
    kw += [(n, d) for n, d in fam["params"] if n == "label_smoothing"]
    if op == CBCE__OP_BWD:
        kw.append(("grad_output", 1.0))
    kw += [("num_threads", None), ("out", None)]
    return inspect.Signature(ps + [P(n, P.KEYWORD_ONLY, default=d) for n, d in kw])


def _family_function(dict fam, str suffix, int op):
    """Operation `op` of a registry family as a plain Python function with the signature
    `_signature` gives (written out and compiled, so a call costs one frame, not a bind)
    and the docstring `_docs.compose` gives."""
    sig = _signature(fam, op)
    name = fam["python"] + suffix
    params = ", ".join(f"{n!r}: {n}" for n, _ in fam["params"])
    source = (f"def {name}{sig}:\n"
              f"    return _loss({fam['name']!r}, {op}, input, target, weight, "
              f"{'pos_weight' if fam['pos_weight'] else None}, "
              f"{'reduction' if op != CBCE__OP_GRAD_HESS else repr('none')}, "
              f"{'grad_output' if op == CBCE__OP_BWD else 1.0}, num_threads, out, "
              f"{{{params}}})\n")
    namespace = {"_loss": _loss}
    exec(source, namespace)
    f = namespace[name]
    f.__module__ = __name__
    f.__doc__ = _docs.compose(fam, suffix, sig)
    return f


for _fam in FAMILIES:
    for _sfx, _op in _SUFFIX_OPS:
        globals()[_fam["python"] + _sfx] = _family_function(_fam, _sfx, _op)


# ---- elementwise helpers ----------------------------------------------------------------

cdef object _elementwise(int which, x, out):
    cdef cnp.ndarray v, w
    cdef int st, f64
    cdef size_t n
    cdef ptrdiff_t xs, ws
    cdef const void *px
    cdef void *pw
    a = _asarray(x, "x")
    dt = a.dtype
    if dt.kind != "f" or dt.itemsize not in (2, 4, 8):
        raise TypeError(f"x must be float16, float32 or float64, got dtype {dt}")
    result_dtype = dt.newbyteorder("=")
    compute_dtype = np.dtype(np.float64 if dt.itemsize == 8 else np.float32)
    f64 = dt.itemsize == 8
    if out is None:
        arr = np.empty(a.shape, dtype=result_dtype)
    else:
        arr = _check_out(out, a.shape, result_dtype, "out")
    v = _readable(a.astype(np.float32) if dt.itemsize == 2 else a)
    wv = None
    if arr.dtype == compute_dtype and arr.dtype.isnative and arr.flags.aligned:
        wv = _line(arr)
    if wv is not None and out is not None and np.may_share_memory(wv, v) and not (
            cnp.PyArray_DATA(<cnp.ndarray>wv) == cnp.PyArray_DATA(v)
            and (wv.strides == (<object>v).strides or v.shape[0] <= 1)):
        wv = None
    tmp = None
    if wv is None or wv.strides[0] % wv.itemsize:
        tmp = np.empty(a.shape, dtype=compute_dtype)
        wv = tmp.reshape(-1)
    w = wv
    n = v.shape[0]
    px = cnp.PyArray_DATA(v)
    pw = cnp.PyArray_DATA(w)
    xs = v.strides[0] // v.itemsize if n > 1 else 0
    ws = w.strides[0] // w.itemsize if n > 1 else 0
    with nogil:
        st = cbce__helper(which, _simd, CBCE_F64 if f64 else CBCE_F32, n, px, xs, pw, ws)
    if st != CBCE_OK:
        raise ValueError(f"cbce: {cbce_status_string(st).decode()}")
    if tmp is not None:
        with np.errstate(over="ignore"):
            arr[...] = tmp
    if out is not None:
        return out
    return arr[()] if arr.ndim == 0 else arr


def sigmoid(x, *, out=None):
    return _elementwise(CBCE__HELPER_SIGMOID, x, out)


def log_sigmoid(x, *, out=None):
    return _elementwise(CBCE__HELPER_LOG_SIGMOID, x, out)


def softplus(x, *, out=None):
    return _elementwise(CBCE__HELPER_SOFTPLUS, x, out)


for _f in (sigmoid, log_sigmoid, softplus):
    _f.__doc__ = _docs.helper(_f.__name__)


cdef tuple _pair(out):
    if out is None:
        return None, None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError("out must be a pair (tuple of two arrays or None)")
    return out[0], out[1]


def _config():
    """Build facts for show_config()."""
    return {
        "version": __version__,
        "c_version_number": C_VERSION_NUMBER,
        "simd": SIMD_LEVEL,
        "simd_requested": os.environ.get("CBCE_SIMD", "auto"),
        "simd_best_on_this_cpu": cbce_simd_name(cbce_simd_level(0)).decode(),
        "default_threads": _num_threads,
        "numpy": np.__version__,
    }
