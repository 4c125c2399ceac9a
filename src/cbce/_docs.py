"""The docstrings of the loss functions, composed from text written once: each parameter's
description (PARAMETERS, keyed by name; the input's by operand kind, ``out``'s by operation),
each operation's returns (RETURNS), the errors by operand kind (RAISES) and each family's
summary and examples (FAMILIES, keyed by the registry's family name and the operation's
suffix; the backward and fused summaries open with LEADS' line, then the family's detail).
`compose` puts them in numpydoc order, the parameters in the signature's order;
`helper` does the same for sigmoid, log_sigmoid and softplus (HELPERS, HELPER_PARTS),
`compose_class` for the loss classes (CLASSES).
"""
import inspect
import textwrap

PARAMETERS = {
    'input_logits': ('array_like of float16, float32 or float64', """\
        Logits (raw scores, any real number, infinities included).  float16 is computed in
        float32 and returned as float16.
        """),
    'target': ('array_like', """\
        Labels of the input's shape (no broadcasting; ValueError naming both shapes
        otherwise), hard (0/1) or soft in [0, 1].  bool, uint8, int8, float32 and float64
        are read without a copy; any other real dtype is converted to the input's.
        """),
    'weight': ('array_like, optional', """\
        Multiplies each element's loss; broadcastable to the input's shape (e.g. ``(N, 1)``
        or ``(C,)`` for an ``(N, C)`` input).  Default: 1.
        """),
    'pos_weight': ('array_like, optional', """\
        Multiplies the positive term ``y * softplus(-x)``; broadcastable to the input's
        shape, typically ``(C,)`` for an ``(N, C)`` input.  Default: 1.
        """),
    'reduction': ("{'mean', 'sum', 'none', 'weighted_mean'}", """\
        ``'none'``: one loss per element; ``'sum'``; ``'mean'``: divided by the element
        count; ``'weighted_mean'``: divided by the sum of the broadcast weights.
        """),
    'label_smoothing': ('float in [0, 1]', """\
        Replaces the target by ``y * (1 - eps) + eps / 2``.
        """),
    'num_threads': ('int, optional', """\
        Threads to use (>= 1); default :func:`get_num_threads`.  Results are bitwise the
        same for every value.
        """),
    'out_forward': ('ndarray, optional', """\
        For ``reduction='none'`` only: a writable array of the input's shape and dtype to
        write the losses into (may be strided); it is returned.
        """),
    'grad_output': ('float or array_like', """\
        Upstream gradient: a scalar for a reduced loss; a scalar or an array broadcastable
        to the input for ``reduction='none'``.
        """),
    'out_backward': ('ndarray, optional', """\
        A writable array of the input's shape and dtype to write the gradient into (may be
        strided, or the input itself); it is returned.
        """),
    'out_forward_backward': ('pair of ndarray or None, optional', """\
        ``(loss_out, grad_out)``, either None.  ``loss_out`` must be None unless
        ``reduction='none'``.  The arrays given are returned.
        """),
    'out_grad_hess': ('pair of ndarray or None, optional', """\
        ``(grad_out, hess_out)``, either None; the arrays given are returned.
        """),
    'input_probs': ('array_like of float16, float32 or float64', """\
        Probabilities in [0, 1].  float16 is computed in float32 and returned as float16.
        """),
    'alpha': ('float or None', """\
        Weight of the positive class (``1 - alpha`` for the negative one); ``None`` drops
        the class balance.  Must be finite.
        """),
    'gamma': ('float >= 0', """\
        Focusing exponent; ``gamma=0, alpha=None`` is BCE with logits.  ``gamma < 0``, NaN
        or inf raises ValueError.
        """),
    'epsilon': ('float', """\
        Coefficient of the poly term ``(1 - p_t)`` (Poly-1), any finite real; 0 gives the
        base loss.  NaN or inf raises ValueError.
        """),
    'gamma_pos': ('float >= 0', """\
        Focusing exponent of the positive term, ``(1 - p)**gamma_pos``.
        """),
    'gamma_neg': ('float >= 0', """\
        Focusing exponent of the negative term, ``p_m**gamma_neg``.
        """),
    'clip': ('float in [0, 1)', """\
        Probability margin: negatives with ``sigmoid(x) <= clip`` add nothing
        (``p_m = max(p - clip, 0)``); 0 disables it.
        """),
}

RETURNS = {
    '_forward': """\
        numpy scalar or ndarray
            The reduced loss as a NumPy scalar of the input's dtype, or for ``'none'`` an array
            of the input's shape.  Sum over no element: 0; mean: NaN.
        """,
    '_backward': """\
        ndarray
            d loss / d input, of the input's shape and dtype.
        """,
    '_forward_backward': """\
        loss : numpy scalar or ndarray
            As the loss function returns it.
        grad : ndarray
            d loss / d input, of the input's shape and dtype.
        """,
    '_grad_hess': """\
        grad, hess : ndarray
            First and second derivatives of each element's loss with respect to its input, of
            the input's shape and dtype.
        """,
}

RAISES = {
    'logits': """\
        ValueError, TypeError
            For a bad shape, dtype, option or ``out``, naming it (the user guide's table of
            bad inputs); nothing is written.
        """,
    'probs': """\
        ValueError, TypeError
            For a bad shape, dtype, option or ``out``, naming it; ValueError for an input or
            target outside [0, 1] (NaN included), naming the first and its index.  Nothing
            is written.
        """,
}

FAMILIES = {
    'bce_logits': {
        '_forward': dict(
            summary="""\
                Binary cross-entropy with logits, within 1 ulp of the exact value.

                Per element, with ``y`` the (smoothed) target, ``w`` the weight and ``p`` the pos_weight::

                    l = w * ((1 - y) * x + (1 + (p - 1) * y) * softplus(-x))

                evaluated in a cancellation-free form, so tiny losses keep full precision and infinite
                logits give the limits (``x = +inf, y = 1``: 0).  Same arguments as
                ``torch.nn.functional.binary_cross_entropy_with_logits``, plus ``label_smoothing``.
                """,
            see_also="""\
                binary_cross_entropy_with_logits_forward_backward : loss and gradient in one pass.
                BCEWithLogitsLoss : the same with fixed settings.
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> x = np.array([-20.0, 0.0, 3.0])
                >>> y = np.array([0.0, 1.0, 1.0])
                >>> cbce.binary_cross_entropy_with_logits(x, y, reduction="none")
                array([2.06115362e-09, 6.93147181e-01, 4.85873516e-02])
                >>> cbce.binary_cross_entropy_with_logits(x, y, pos_weight=np.array([1.0, 2.0, 2.0]))
                np.float64(0.4944896887761761)
                """),
        '_backward': dict(
            detail="""\
                Per element ``w * (L * sigmoid(x) - p * y)`` with ``L = 1 + (p - 1) * y``, times
                ``grad_output``, divided by the element count for ``'mean'`` and by the sum of the
                weights for ``'weighted_mean'``; computed without cancellation.
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> x = np.array([-2.0, 0.0, 2.0]); y = np.array([0.0, 1.0, 1.0])
                >>> cbce.binary_cross_entropy_with_logits_backward(x, y, reduction="sum")
                array([ 0.11920292, -0.5       , -0.11920292])
                >>> g = cbce.binary_cross_entropy_with_logits_backward(x, y, reduction="none", out=x)
                >>> g is x  # in place
                True
                """),
        '_forward_backward': dict(
            detail="""\
                The same values as the loss and backward functions (with ``grad_output=1``), for the
                cost of about one of them.
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> loss, grad = cbce.binary_cross_entropy_with_logits_forward_backward(
                ...     np.array([0.0, 0.0]), np.array([0.0, 1.0]))
                >>> float(loss), grad
                (0.6931471805599453, array([ 0.25, -0.25]))
                """),
        '_grad_hess': dict(
            summary="""\
                Elementwise ``(grad, hess)`` of the unreduced BCE with logits (gradient boosting).

                ``hess = w * L * sigmoid(x) * sigmoid(-x)`` with ``L = 1 + (p - 1) * y``, never formed
                as ``s * (1 - s)``, so it keeps full precision where it is tiny.  There is no
                reduction.
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> cbce.binary_cross_entropy_with_logits_grad_hess(np.array([0.0, 30.0]),
                ...                                                 np.array([1.0, 1.0]))
                (array([-5.00000000e-01, -9.35762297e-14]), array([2.50000000e-01, 9.35762297e-14]))
                """),
    },
    'bce': {
        '_forward': dict(
            summary="""\
                Binary cross-entropy on probabilities, as ``torch.nn.functional.binary_cross_entropy``.

                Per element, with ``y`` the (smoothed) target and ``w`` the weight::

                    l = -w * (y * max(log(x), -100) + (1 - y) * max(log(1 - x), -100))

                The clamp keeps ``x`` in {0, 1} finite (PyTorch's rule).  Prefer
                :func:`binary_cross_entropy_with_logits` when the model gives logits.
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> p = np.array([0.9, 0.2, 0.0])
                >>> y = np.array([1.0, 0.0, 1.0])
                >>> cbce.binary_cross_entropy(p, y, reduction="none")
                array([  0.10536052,   0.22314355, 100.        ])
                """),
        '_backward': dict(
            detail="""\
                PyTorch's rule: ``w * (x - y) / max(x * (1 - x), 1e-12)`` times ``grad_output`` (and
                divided by the element count for ``'mean'``, by the sum of the weights for
                ``'weighted_mean'``); 1e-12 is PyTorch's float32 EPSILON (9.99999996e-13) for every
                dtype, and float16 input is computed in float32, so the gradient is finite at 0 and 1.
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> p = np.array([0.5, 0.2]); y = np.array([1.0, 0.0])
                >>> cbce.binary_cross_entropy_backward(p, y, reduction="sum")
                array([-2.  ,  1.25])
                """),
        '_forward_backward': dict(
            examples="""\
                >>> import numpy as np, cbce
                >>> loss, grad = cbce.binary_cross_entropy_forward_backward(
                ...     np.array([0.5, 0.5]), np.array([0.0, 1.0]))
                >>> float(loss), grad
                (0.6931471805599453, array([ 1., -1.]))
                """),
        '_grad_hess': dict(
            summary="""\
                Elementwise ``(grad, hess)`` of the unreduced :func:`binary_cross_entropy`.

                The gradient is the one :func:`binary_cross_entropy_backward` gives, and the hessian
                its derivative with respect to ``input``, ``w * ((x - y)**2 + y * (1 - y)) / (x * (1 -
                x))**2`` (with the same ``max(x * (1 - x), 1e-12)`` floor, so it is finite at 0 and 1).
                There is no reduction.
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> cbce.binary_cross_entropy_grad_hess(np.array([0.5, 0.25]), np.array([1.0, 0.0]))
                (array([-2.        ,  1.33333333]), array([4.        , 1.77777778]))
                """),
    },
    'focal': {
        '_forward': dict(
            summary="""\
                Sigmoid focal loss on logits (Lin et al. 2017), torchvision's formula.

                With ``p = sigmoid(x)``, ``p_t = p*y + (1-p)*(1-y)`` and
                ``a_t = alpha*y + (1-alpha)*(1-y)``::

                    l = w * a_t * (1 - p_t)**gamma * binary_cross_entropy_with_logits(x, y)

                ``alpha=None`` drops ``a_t``; ``gamma=0, alpha=None`` is exactly
                :func:`binary_cross_entropy_with_logits`.  Computed in log space
                (``(1 - p_t)**gamma = exp(gamma * log(1 - p_t))``, ``log(1 - p_t)`` from log-sigmoids),
                so the loss and its gradient are finite for every ``gamma >= 0``, ``0 < gamma < 1``
                included, and infinite logits give the limits.  torchvision's default reduction is
                ``'none'``; cbce's, as for every loss here, is ``'mean'``.
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> x = np.array([-2.0, 0.0, 3.0]); y = np.array([0.0, 1.0, 1.0])
                >>> cbce.sigmoid_focal_loss(x, y, reduction="none")
                array([1.35267213e-03, 4.33216988e-02, 2.73208311e-05])
                """),
        '_backward': dict(
            detail="""\
                Finite for every ``gamma >= 0`` (torchvision's autograd gives NaN for ``0 < gamma < 1``
                at confident right predictions; this gives the limit).
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> cbce.sigmoid_focal_loss_backward(np.array([0.0, 2.0]), np.array([1.0, 1.0]),
                ...                                  alpha=None, gamma=0.5, reduction="sum")
                array([-0.47608566, -0.06045527])
                """),
        '_forward_backward': dict(
            examples="""\
                >>> import numpy as np, cbce
                >>> loss, grad = cbce.sigmoid_focal_loss_forward_backward(
                ...     np.array([0.0]), np.array([1.0]), alpha=None, gamma=1.0)
                >>> float(loss), grad
                (0.34657359027997264, array([-0.4232868]))
                """),
        '_grad_hess': dict(
            summary="""\
                Elementwise ``(grad, hess)`` of the unreduced focal loss.

                The hessian is the true second derivative: it is negative where the loss is locally
                concave (the boosting objectives of ``cbce.integrations`` floor it).
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> g, h = cbce.sigmoid_focal_loss_grad_hess(np.array([-3.0, 0.0]), np.array([1.0, 1.0]),
                ...                                          alpha=None, gamma=2.0)
                >>> g, h
                (array([-1.12674988, -0.2982868 ]), array([-0.02008887,  0.3991434 ]))
                """),
    },
    'poly1': {
        '_forward': dict(
            summary="""\
                Poly-1 loss (Leng et al., "PolyLoss", ICLR 2022), binary, on logits.

                Per element, with ``p_t = y*sigmoid(x) + (1-y)*sigmoid(-x)``::

                    l = w * (binary_cross_entropy_with_logits(x, y; pos_weight) + epsilon * (1 - p_t))

                ``1 - p_t`` is formed as ``y*sigmoid(-x) + (1-y)*sigmoid(x)``, never as a difference;
                pos_weight weighs the cross-entropy term only.  A negative ``epsilon`` makes the loss a
                difference: it is then accurate to 1 ulp of the larger of the two terms.
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> x = np.array([-2.0, 0.0, 3.0]); y = np.array([0.0, 1.0, 1.0])
                >>> cbce.poly1_loss(x, y, reduction="none")
                array([0.24613093, 1.19314718, 0.09601322])
                """),
        '_backward': dict(
            examples="""\
                >>> import numpy as np, cbce
                >>> cbce.poly1_loss_backward(np.array([0.0, 2.0]), np.array([1.0, 1.0]),
                ...                          epsilon=2.0, reduction="sum")
                array([-1.        , -0.32919009])
                """),
        '_forward_backward': dict(
            examples="""\
                >>> import numpy as np, cbce
                >>> loss, grad = cbce.poly1_loss_forward_backward(np.array([0.0]), np.array([1.0]),
                ...                                               epsilon=-1.0)
                >>> float(loss), grad
                (0.19314718055994531, array([-0.25]))
                """),
        '_grad_hess': dict(
            summary="""\
                Elementwise ``(grad, hess)`` of the unreduced Poly-1 loss (the true second derivative).
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> cbce.poly1_loss_grad_hess(np.array([-3.0, 0.0]), np.array([1.0, 1.0]))
                (array([-0.99775079, -0.75      ]), array([0.00428509, 0.25      ]))
                """),
    },
    'poly1_focal': {
        '_forward': dict(
            summary="""\
                Poly-1 with the focal base (Leng et al., ICLR 2022), on logits.

                Per element, with ``p_t`` and ``a_t`` as for :func:`sigmoid_focal_loss`::

                    l = w * (a_t * (1 - p_t)**gamma * ce + epsilon * (1 - p_t)**(gamma + 1))

                with ``ce`` BCE with logits, computed in log space as the focal loss is (finite for
                every ``gamma >= 0``, infinite logits giving the limits).  ``epsilon=0`` is the focal
                loss.
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> x = np.array([-2.0, 0.0, 3.0]); y = np.array([0.0, 1.0, 1.0])
                >>> cbce.poly1_focal_loss(x, y, reduction="none")
                array([3.04646657e-03, 1.68321699e-01, 1.33991743e-04])
                """),
        '_backward': dict(
            examples="""\
                >>> import numpy as np, cbce
                >>> cbce.poly1_focal_loss_backward(np.array([0.0, 2.0]), np.array([1.0, 1.0]),
                ...                                epsilon=2.0, alpha=None, gamma=0.5, reduction="sum")
                array([-1.00641574, -0.16920482])
                """),
        '_forward_backward': dict(
            examples="""\
                >>> import numpy as np, cbce
                >>> loss, grad = cbce.poly1_focal_loss_forward_backward(
                ...     np.array([0.0]), np.array([1.0]), alpha=None, gamma=1.0)
                >>> float(loss), grad
                (0.5965735902799727, array([-0.6732868]))
                """),
        '_grad_hess': dict(
            summary="""\
                Elementwise ``(grad, hess)`` of the unreduced Poly-1 focal loss (the true second
                derivative, negative where the loss is locally concave).
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> cbce.poly1_focal_loss_grad_hess(np.array([-3.0, 0.0]), np.array([1.0, 1.0]),
                ...                                 alpha=None, gamma=2.0)
                (array([-1.24972944, -0.4857868 ]), array([-0.11973877,  0.5866434 ]))
                """),
    },
    'asymmetric': {
        '_forward': dict(
            summary="""\
                Asymmetric loss (Ridnik et al., ICCV 2021) for multi-label classification, on logits.

                Per element, with ``p = sigmoid(x)`` and the margin ``p_m = max(p - clip, 0)``::

                    l = w * (y * (1 - p)**gamma_pos * (-log p) + (1 - y) * p_m**gamma_neg * (-log(1 - p_m)))

                soft labels giving the y-weighted sum of the two terms.  Computed in log space
                (``-log p = softplus(-x)``, ``1 - p_m = sigmoid(-x) + clip``), infinite logits giving the
                limits.  ``gamma_pos = gamma_neg = clip = 0`` is BCE with logits.  Near the margin
                ``p_m`` is itself a difference: the negative term is accurate to its sensitivity to
                ``p_m`` times the rounding of ``p``.
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> x = np.array([-2.0, -4.0, 0.0, 3.0]); y = np.array([0.0, 0.0, 1.0, 1.0])
                >>> cbce.asymmetric_loss(x, y, reduction="none")
                array([1.64475645e-06, 0.00000000e+00, 6.93147181e-01, 4.85873516e-02])
                """),
        '_backward': dict(
            detail="""\
                At ``p = clip`` it is the one-sided derivative from ``p > clip``.
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> cbce.asymmetric_loss_backward(np.array([-1.0, 2.0]), np.array([0.0, 1.0]),
                ...                               gamma_pos=1.0, reduction="sum")
                array([ 0.00261797, -0.02753596])
                """),
        '_forward_backward': dict(
            examples="""\
                >>> import numpy as np, cbce
                >>> loss, grad = cbce.asymmetric_loss_forward_backward(np.array([0.0]), np.array([0.0]))
                >>> float(loss), grad
                (0.02451505351223516, array([0.0731171]))
                """),
        '_grad_hess': dict(
            summary="""\
                Elementwise ``(grad, hess)`` of the unreduced asymmetric loss (the true second
                derivative; +inf at the margin for ``0 < gamma_neg < 1``).
                """,
            examples="""\
                >>> import numpy as np, cbce
                >>> cbce.asymmetric_loss_grad_hess(np.array([-2.0, 3.0]), np.array([0.0, 1.0]),
                ...                                gamma_pos=1.0)
                (array([ 1.25686484e-05, -4.44422770e-03]), array([8.66960834e-05, 8.41444092e-03]))
                """),
    },
}


# the first line of the backward and fused summaries, from the loss function's name
LEADS = {
    '_backward': "Gradient of :func:`{}` with respect to ``input``.",
    '_forward_backward': "``(loss, grad)`` of :func:`{}` from one pass over memory.",
}


def _default(value):
    return repr(value) if not isinstance(value, float) else f"{value}"


def _parameters(signature, keys):
    """The numpydoc Parameters section of `signature`, each described by PARAMETERS[name]
    (or PARAMETERS[keys[name]])."""
    lines = ["Parameters", "----------"]
    for name, p in signature.parameters.items():
        kind, desc = PARAMETERS[keys.get(name, name)]
        if p.default is not inspect.Parameter.empty and p.default is not None:
            kind += ", default " + _default(p.default)
        lines += [f"{name} : {kind}", textwrap.indent(textwrap.dedent(desc).strip(), "    ")]
    return lines


def compose(family, suffix, signature):
    """The docstring of operation `suffix` ("" for the loss) of registry family `family`
    (a cbce._registry entry) with Python signature `signature`."""
    op = suffix or "_forward"
    operands = "probs" if family["probs"] else "logits"
    try:
        text = FAMILIES[family["name"]][op]
    except KeyError:
        raise KeyError(f"cbce._docs.FAMILIES has no text for {family['name']!r} {op}") from None
    if op in LEADS:  # the composed first line, then the family's detail if any
        parts = [LEADS[op].format(family["python"]), text.get("detail")]
    else:
        parts = [text["summary"]]
    summary = "\n\n".join(textwrap.dedent(t).strip() for t in parts if t)
    lines = [summary, ""] + _parameters(signature, {"input": "input_" + operands,
                                                     "out": "out" + op})
    lines += ["", "Returns", "-------", textwrap.dedent(RETURNS[op]).strip(),
              "", "Raises", "------", textwrap.dedent(RAISES[operands]).strip()]
    if text.get("see_also"):
        lines += ["", "See Also", "--------", textwrap.dedent(text["see_also"]).strip()]
    lines += ["", "Examples", "--------", textwrap.dedent(text["examples"]).strip()]
    return textwrap.indent("\n".join(lines), "    ").lstrip() + "\n    "


# ---- the elementwise helpers ---------------------------------------------------------------

HELPER_PARTS = """\
Parameters
----------
x : array_like of float16, float32 or float64
    Any shape; integer and other dtypes raise TypeError.
out : ndarray, optional
    A writable array of x's shape and dtype (may be strided, or x itself); returned.

Returns
-------
ndarray or numpy scalar
    x's shape and dtype (a scalar for a 0-d input without ``out``).

Raises
------
TypeError
    x is not float16, float32 or float64, or ``out`` has another dtype.
ValueError
    ``out`` has another shape or is read-only.
"""

HELPERS = {
    'sigmoid': dict(
        summary="""\
        The logistic sigmoid ``1 / (1 + exp(-x))``, elementwise, within 1 ulp.

        Never forms ``1 - sigmoid``: tiny results keep their full precision, subnormals
        included; ``sigmoid(-inf) = 0``, ``sigmoid(inf) = 1``.
        """,
        examples="""\
        >>> import numpy as np, cbce
        >>> cbce.sigmoid(np.array([-40.0, 0.0, 2.0], dtype=np.float32))
        array([4.248354e-18, 5.000000e-01, 8.807971e-01], dtype=float32)
        """),
    'log_sigmoid': dict(
        summary="""\
        ``log(sigmoid(x)) = -softplus(-x)``, elementwise, within 1 ulp.

        No cancellation at large ``|x|``: ``log_sigmoid(-1000.0) == -1000.0`` and
        ``log_sigmoid(40.0) == -4.25e-18``.
        """,
        examples="""\
        >>> import numpy as np, cbce
        >>> cbce.log_sigmoid(np.array([-1000.0, 0.0, 40.0]))
        array([-1.00000000e+03, -6.93147181e-01, -4.24835426e-18])
        """),
    'softplus': dict(
        summary="""\
        ``log(1 + exp(x))``, elementwise, within 1 ulp, without overflow for large ``x``.
        """,
        examples="""\
        >>> import numpy as np, cbce
        >>> cbce.softplus(np.array([-40.0, 0.0, 1000.0]))
        array([4.24835426e-18, 6.93147181e-01, 1.00000000e+03])
        """),
}


def helper(name):
    """The docstring of the elementwise helper `name` (sigmoid, log_sigmoid, softplus)."""
    text = HELPERS[name]
    body = "\n".join([textwrap.dedent(text["summary"]).strip(), "", HELPER_PARTS.strip(), "",
                      "Examples", "--------", textwrap.dedent(text["examples"]).strip()])
    return textwrap.indent(body, "    ").lstrip() + "\n    "


# ---- the loss classes ----------------------------------------------------------------------

# each family's class: what it mirrors (optional) and its examples
CLASSES = {
    'bce_logits': dict(
        mirrors="``torch.nn.BCEWithLogitsLoss``",
        examples="""\
            >>> import numpy as np, cbce
            >>> loss = cbce.BCEWithLogitsLoss(reduction="sum", label_smoothing=0.1)
            >>> loss
            BCEWithLogitsLoss(weight=None, pos_weight=None, reduction='sum', label_smoothing=0.1)
            """),
    'bce': dict(
        mirrors="``torch.nn.BCELoss``",
        examples="""\
            >>> import numpy as np, cbce
            >>> loss = cbce.BCELoss(reduction="sum")
            >>> loss
            BCELoss(weight=None, reduction='sum', label_smoothing=0.0)
            >>> float(loss(np.array([0.5, 0.5]), np.array([0.0, 1.0])))
            1.3862943611198906
            """),
    'focal': dict(
        mirrors="torchvision's ``sigmoid_focal_loss``",
        examples="""\
            >>> import numpy as np, cbce
            >>> loss = cbce.SigmoidFocalLoss(alpha=None, gamma=0.5)
            >>> loss
            SigmoidFocalLoss(alpha=None, gamma=0.5, reduction='mean', label_smoothing=0.0)
            """),
    'poly1': dict(
        examples="""\
            >>> import numpy as np, cbce
            >>> loss = cbce.Poly1Loss(epsilon=2.0, reduction="sum")
            >>> float(loss(np.array([0.0]), np.array([1.0])))  # log 2 + 2 * (1 - 1/2)
            1.6931471805599454
            """),
    'poly1_focal': dict(
        examples="""\
            >>> import numpy as np, cbce
            >>> loss = cbce.Poly1FocalLoss(epsilon=-1.0, alpha=None)
            >>> float(loss(np.array([0.0]), np.array([1.0])))  # log(2) / 4 - 1/8
            0.04828679513998633
            """),
    'asymmetric': dict(
        examples="""\
            >>> import numpy as np, cbce
            >>> loss = cbce.AsymmetricLoss(gamma_neg=2.0, clip=0.0)
            >>> loss
            AsymmetricLoss(gamma_pos=0.0, gamma_neg=2.0, clip=0.0, reduction='mean')
            >>> float(loss(np.array([0.0]), np.array([0.0])))  # log(2) / 4
            0.17328679513998632
            """),
}


def compose_class(family, signature):
    """The docstring of registry family `family`'s loss class, whose constructor has the
    signature `signature`."""
    text = CLASSES[family["name"]]
    mirrors = f" (as {text['mirrors']})" if text.get("mirrors") else ""
    summary = (f":func:`cbce.{family['python']}` with fixed settings{mirrors}: calling the "
               "object gives the loss; ``backward`` and ``forward_backward`` the gradient.")
    lines = textwrap.wrap(summary, 88) + [""] + _parameters(signature, {})
    lines += ["", "Examples", "--------", textwrap.dedent(text["examples"]).strip()]
    return textwrap.indent("\n".join(lines), "    ").lstrip() + "\n    "
