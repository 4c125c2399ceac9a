"""cbce.integrations.torch: value and gradient parity with PyTorch's own losses, zero-copy
hand-over to the core, errors for tensors cbce cannot take, and a training loop.

References are independent of cbce: ``torch.nn.functional`` (label smoothing applied to the
target by hand, ``y * (1 - eps) + eps / 2``), torchvision's focal formula written out in
torch ops, and ``torch.autograd.gradcheck`` (finite differences).  Comparisons are normwise,
``max|cbce - torch| <= rtol * max|torch|`` with rtol 1e-6 (float32) / 1e-13 (float64), as in
test_logits_torch.py (PyTorch cancels at large logits; at moderate ones it is accurate to a
few ulps).  The largest measured ratio is reported in the end-of-run table.
"""
import importlib
import os

import numpy as np
import pytest

import cbce
from cbce._registry import FAMILIES as REGISTRY
from reference import report_ulp


def _need(name):
    """The framework, or a skip; a failure under CBCE_REQUIRE_INTEGRATIONS=1 (CI)."""
    if os.environ.get("CBCE_REQUIRE_INTEGRATIONS"):
        return importlib.import_module(name)
    return pytest.importorskip(name)


torch = _need("torch")
ct = _need("cbce.integrations.torch")
tF = torch.nn.functional

# the registry's families without a written module, and settings other than the defaults
MADE = [f for f in REGISTRY if f["name"] not in ("bce_logits", "bce", "focal")]
SETTINGS = {"epsilon": -0.7, "alpha": 0.3, "gamma": 1.5, "label_smoothing": 0.1,
            "gamma_pos": 1.0, "gamma_neg": 2.0, "clip": 0.05}
TDTYPES = {"float32": torch.float32, "float64": torch.float64}
RTOL = {torch.float32: 1e-6, torch.float64: 1e-13}
REDUCTIONS = ["none", "sum", "mean"]


def _close(got, want, what, rtol=None):
    """Normwise comparison; records the measured error in units of rtol."""
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    got64, want64 = got.detach().double(), want.detach().double()
    scale = max(float(want64.abs().max()) if want64.numel() else 0.0, 1e-300)
    err = float((got64 - want64).abs().max()) / scale if want64.numel() else 0.0
    rtol = rtol or RTOL[want.dtype]
    report_ulp(f"torch parity {what.split(':')[0]} {str(want.dtype)[6:]} (x rtol)",
               err / rtol, 1.0)
    assert err <= rtol, f"{what}: normwise error {err:.3g} > {rtol:g}"


def _data(shape, dtype, seed, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)
    y = (torch.rand(shape, generator=g, dtype=torch.float64) < 0.4).to(dtype)
    return x, y


def _weights(kind, shape, dtype, seed):
    g = torch.Generator().manual_seed(seed + 1)
    if kind is None:
        return None
    wshape = {"C": shape[-1:], "N1": shape[:-1] + (1,), "full": shape}[kind]
    return (torch.rand(wshape, generator=g, dtype=torch.float64) * 2 + 0.1).to(dtype)


def _grad_output(loss, seed):
    if loss.dim() == 0:
        return torch.tensor(1.7, dtype=loss.dtype)
    g = torch.Generator().manual_seed(seed + 2)
    return torch.randn(loss.shape, generator=g, dtype=torch.float64).to(loss.dtype)


def _run(fn, x, *args, **kw):
    """Loss and d loss / d x (with a non-trivial upstream gradient)."""
    x = x.detach().clone().requires_grad_(True)
    loss = fn(x, *args, **kw)
    loss.backward(_grad_output(loss, 7))
    return loss.detach(), x.grad


# ---- BCE with logits -------------------------------------------------------------------

@pytest.mark.parametrize("dt", list(TDTYPES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("wkind,pkind,eps", [(None, None, 0.0), ("C", None, 0.0),
                                             ("N1", "C", 0.0), ("full", "C", 0.1),
                                             (None, "C", 0.25), (None, None, 1.0)])
def test_bce_with_logits_parity(dt, reduction, wkind, pkind, eps):
    dtype = TDTYPES[dt]
    shape = (64, 5)
    x, y = _data(shape, dtype, 1)
    w = _weights(wkind, shape, dtype, 2)
    pw = _weights("C", shape, dtype, 3) * 2 if pkind else None
    mod = ct.BCEWithLogitsLoss(weight=w, pos_weight=pw, reduction=reduction,
                               label_smoothing=eps)
    ref = torch.nn.BCEWithLogitsLoss(weight=w, pos_weight=pw, reduction=reduction)
    ys = y * (1 - eps) + eps / 2
    case = f"{dt} {reduction} weight={wkind} pos_weight={pkind} eps={eps}"
    l1, g1 = _run(mod, x, y)
    l2, g2 = _run(ref, x, ys)
    _close(l1, l2, f"loss: {case}")
    _close(g1, g2, f"grad: {case}")


@pytest.mark.parametrize("dt", list(TDTYPES))
def test_weighted_mean_and_targets_of_other_dtypes(dt):
    dtype = TDTYPES[dt]
    x, y = _data((40, 3), dtype, 4)
    w = _weights("N1", (40, 3), dtype, 5)
    w[::3] = 0.0
    l1, g1 = _run(ct.binary_cross_entropy_with_logits, x, y, w, reduction="weighted_mean")
    wsum = w.expand(40, 3).sum()
    l2, g2 = _run(lambda a: tF.binary_cross_entropy_with_logits(a, y, w, reduction="sum")
                  / wsum, x)
    _close(l1, l2, f"loss: weighted_mean {dt}")
    _close(g1, g2, f"grad: weighted_mean {dt}")
    for tt in (torch.bool, torch.uint8, torch.int8, torch.int64, torch.float32):
        l3, g3 = _run(ct.binary_cross_entropy_with_logits, x, y.to(tt), reduction="sum")
        l4, g4 = _run(ct.binary_cross_entropy_with_logits, x, y, reduction="sum")
        assert torch.equal(l3, l4) and torch.equal(g3, g4), f"target dtype {tt}, input {dt}"


def test_strided_inputs_give_the_contiguous_result():
    x, y = _data((30, 20), torch.float64, 6)
    for view in (lambda a: a.t(), lambda a: a[::2, 3:17:3], lambda a: a.unsqueeze(0).expand(
            2, 30, 20)[:, :, ::5], torch._neg_view):
        xv, yv = view(x), view(y)
        assert not xv.is_contiguous() or xv.is_neg()
        l1, g1 = _run(ct.binary_cross_entropy_with_logits, xv, yv, reduction="none")
        l2, g2 = _run(ct.binary_cross_entropy_with_logits, xv.contiguous(), yv.contiguous(),
                      reduction="none")
        assert torch.equal(l1, l2) and torch.equal(g1, g2), f"view of shape {tuple(xv.shape)}"


# ---- gradcheck / gradgradcheck: every loss and option, to second order -----------------

# (family, options, weight kind, pos_weight kind, target differentiable)
GRADCHECK_CASES = [
    ("logits", dict(), None, None, True),
    ("logits", dict(label_smoothing=0.2), "C", "N1", True),
    ("logits", dict(label_smoothing=0.1), "full", None, True),
    ("logits", dict(), None, "C", True),
    ("probs", dict(), None, None, True),
    ("probs", dict(label_smoothing=0.2), "C", None, True),
    ("probs", dict(), "N1", None, True),
    ("focal", dict(alpha=0.25, gamma=2.0), None, None, True),
    ("focal", dict(alpha=None, gamma=0.5), "C", None, True),
    ("focal", dict(alpha=0.6, gamma=0.0), "full", None, True),
    ("focal", dict(alpha=None, gamma=3.5), "N1", None, True),
    ("focal", dict(alpha=0.25, gamma=1.0), None, None, True),
]
FUNCS = {"logits": ct.binary_cross_entropy_with_logits, "probs": ct.binary_cross_entropy,
         "focal": ct.sigmoid_focal_loss}


def _gradcheck_case(case, reduction, shape, seed):
    """float64 (input, soft target, weight, keyword arguments) for a GRADCHECK_CASES row."""
    family, opts, wkind, pkind, _ = case
    x, _ = _data(shape, torch.float64, seed, scale=2.0)
    if family == "probs":
        x = torch.sigmoid(x) * 0.9 + 0.05
    y = torch.rand(shape, generator=torch.Generator().manual_seed(seed + 1),
                   dtype=torch.float64)
    w = _weights(wkind, shape, torch.float64, seed + 2)
    kw = dict(opts, reduction=reduction)
    if pkind is not None:
        kw["pos_weight"] = _weights(pkind, shape, torch.float64, seed + 3)
    return x, y, w, kw


@pytest.mark.parametrize("reduction", REDUCTIONS + ["weighted_mean"])
@pytest.mark.parametrize("case", GRADCHECK_CASES,
                         ids=lambda c: f"{c[0]}-{c[1]}-w{c[2]}-pw{c[3]}")
def test_gradcheck_and_gradgradcheck(case, reduction):
    """First and second derivatives (input, and target where differentiable, mixed terms
    included) against finite differences, float64."""
    family, opts, wkind, pkind, target_grad = case
    x, y, w, kw = _gradcheck_case(case, reduction, (5, 3), 30)
    inputs = (x.requires_grad_(True), y.requires_grad_(target_grad))

    def f(a, b):
        return FUNCS[family](a, b, w, **kw)

    name = f"{family} {opts} weight={wkind} pos_weight={pkind} {reduction}"
    assert torch.autograd.gradcheck(f, inputs), name
    assert torch.autograd.gradgradcheck(f, inputs), name


def test_custom_ops_pass_opcheck():
    """torch.library.opcheck: schema, fake (meta) implementation, autograd registration and
    AOT dispatch of both ops."""
    x, y = _data((4, 3), torch.float64, 34)
    x.requires_grad_(True)
    pw = torch.full((3,), 2.0, dtype=torch.float64)
    w = _weights("C", (4, 3), torch.float64, 35)
    # the family's registry parameters in its order, NaN for None
    loss_args = [(x, y, w, pw, "bce_logits", "mean", [0.1], True),
                 (torch.sigmoid(x).detach().requires_grad_(True), y, None, None, "bce",
                  "none", [0.0], True),
                 (x, y, w, None, "focal", "weighted_mean", [0.25, 2.0, 0.0], False),
                 (x, y, w, pw, "poly1", "sum", [-1.5, 0.1], True),
                 (x, y, None, None, "asymmetric", "mean", [1.0, 4.0, 0.05], True)]
    for args in loss_args:
        torch.library.opcheck(torch.ops.cbce.loss.default, args)
    for args in ((x.detach(), y, w, None, "focal", [float("nan"), 1.5, 0.0]),
                 (x.detach(), y, w, None, "poly1_focal", [2.0, 0.25, 1.0, 0.0])):
        torch.library.opcheck(torch.ops.cbce.grad_hess.default, args)
    # the op itself (what traced code calls; eager calls take an autograd.Function with the
    # same derivatives), to second order
    for args in loss_args:
        a, rest = args[0].detach().requires_grad_(True), args[1:-1]
        assert torch.autograd.gradgradcheck(
            lambda v: torch.ops.cbce.loss(v, *rest, True)[0], (a,)), rest


# ---- second order against PyTorch's own losses ------------------------------------------

def _torch_losses(family, eps):
    """PyTorch's own loss (torchvision's formula for focal), label smoothing by hand."""
    def smooth(y):
        return y * (1 - eps) + eps / 2

    if family == "logits":
        return lambda out, y, w, pw, r: tF.binary_cross_entropy_with_logits(
            out, smooth(y), w, pos_weight=pw, reduction=r)
    if family == "probs":
        return lambda out, y, w, pw, r: tF.binary_cross_entropy(
            torch.sigmoid(out), smooth(y), w, reduction=r)

    def focal(out, y, w, pw, r):
        loss = _torchvision_focal(out, y, 0.25, 2.0, "none") * w
        return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[r]
    return focal


def _cbce_losses(family, eps):
    if family == "logits":
        return lambda out, y, w, pw, r: ct.binary_cross_entropy_with_logits(
            out, y, w, pos_weight=pw, reduction=r, label_smoothing=eps)
    if family == "probs":
        return lambda out, y, w, pw, r: ct.binary_cross_entropy(
            torch.sigmoid(out), y, w, reduction=r, label_smoothing=eps)
    return lambda out, y, w, pw, r: ct.sigmoid_focal_loss(out, y, w, alpha=0.25, gamma=2.0,
                                                          reduction=r)


def _penalty_step(loss_fn, dtype, reduction, target_grad=True):
    """One gradient-penalty step of a 2-layer MLP: loss + 5 * |d loss / d X|^2 (R1-style,
    through the network), soft targets from a teacher network (differentiable, as in
    distillation, unless target_grad is false); returns the parameter gradients of student
    and teacher."""
    torch.manual_seed(40)
    student = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(),
                                  torch.nn.Linear(16, 3)).to(dtype)
    teacher = torch.nn.Linear(6, 3).to(dtype)
    g = torch.Generator().manual_seed(41)
    X = torch.randn(32, 6, generator=g, dtype=dtype).requires_grad_(True)
    w = (torch.rand(32, 1, generator=g, dtype=dtype) + 0.5)
    pw = torch.tensor([1.0, 2.0, 0.5], dtype=dtype)
    Y = torch.sigmoid(teacher(X))
    if not target_grad:
        Y = Y.detach()
    loss = loss_fn(student(X), Y, w, pw, reduction)
    if loss.dim():
        loss = (loss * torch.linspace(0.5, 1.5, loss.numel(), dtype=dtype).view_as(loss)).sum()
    (gx,) = torch.autograd.grad(loss, X, create_graph=True)
    (loss + 5 * gx.pow(2).sum()).backward()
    return torch.cat([(torch.zeros_like(p) if p.grad is None else p.grad).flatten()
                      for p in [*student.parameters(), *teacher.parameters()]])


@pytest.mark.parametrize("dt", list(TDTYPES))
@pytest.mark.parametrize("family,eps", [("logits", 0.0), ("logits", 0.1), ("probs", 0.0),
                                        ("probs", 0.2), ("focal", 0.0)])
def test_gradient_penalty_step_matches_torch(family, eps, dt):
    """Second order through the loss (d/dparams of a function of d loss / d input), and
    through the target (teacher parameters), mixed derivatives included."""
    dtype = TDTYPES[dt]
    for reduction in REDUCTIONS:
        want_fn, got_fn = _torch_losses(family, eps), _cbce_losses(family, eps)
        want = _penalty_step(want_fn, dtype, reduction)
        got = _penalty_step(got_fn, dtype, reduction)
        # PyTorch's double backward of binary_cross_entropy divides by
        # ((x + 1e-12) (1 - x + 1e-12))^2, not by the square of its backward's
        # max(x (1 - x), 1e-12): a relative difference of ~1e-12 / min(x, 1 - x)
        rtol = 1e-10 if family == "probs" and dtype == torch.float64 else None
        _close(got, want, f"penalty {family}: eps={eps} {reduction} {dt}", rtol)


def _formula(name, x, y, w, pw, r, epsilon=0.0, alpha=None, gamma=0.0, label_smoothing=0.0,
             gamma_pos=0.0, gamma_neg=0.0, clip=0.0):
    """The registry families without a PyTorch loss, written in torch ops (cbce.h's
    definitions), for autograd to differentiate."""
    y = y * (1 - label_smoothing) + label_smoothing / 2
    p = torch.sigmoid(x)
    if name == "asymmetric":
        pm = (p - clip).clamp_min(0)
        loss = (y * (1 - p) ** gamma_pos * -tF.logsigmoid(x)
                + (1 - y) * pm ** gamma_neg * -torch.log1p(-pm))
    else:
        v = y * torch.sigmoid(-x) + (1 - y) * p    # 1 - p_t
        ce = tF.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none")
        if name == "poly1":
            loss = ce + epsilon * v
        else:
            at = 1 if alpha is None else alpha * y + (1 - alpha) * (1 - y)
            loss = at * v ** gamma * ce + epsilon * v ** (gamma + 1)
    loss = loss * w
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[r]


@pytest.mark.parametrize("dt", list(TDTYPES))
@pytest.mark.parametrize("fam", MADE, ids=[f["name"] for f in MADE])
def test_gradient_penalty_step_of_the_other_families(fam, dt):
    """The gradient-penalty step for the families without a PyTorch loss, against autograd
    on their definitions in torch ops (targets detached: cbce refuses their gradient)."""
    dtype = TDTYPES[dt]
    kw = {n: SETTINGS.get(n, d) for n, d in fam["params"]}
    fn = getattr(ct, fam["python"])
    takes_pw = fam["pos_weight"]
    for reduction in REDUCTIONS:
        want = _penalty_step(lambda o, y, w, pw, r: _formula(
            fam["name"], o, y, w, pw if takes_pw else None, r, **kw), dtype, reduction, False)
        got = _penalty_step(lambda o, y, w, pw, r: fn(
            o, y, w, reduction=r, **kw, **({"pos_weight": pw} if takes_pw else {})),
            dtype, reduction, False)
        _close(got, want, f"penalty {fam['name']}: {reduction} {dt}")


def test_hessian_vector_product_and_target_gradient_match_torch():
    x, y = _data((8, 3), torch.float64, 42)
    y = torch.rand(8, 3, generator=torch.Generator().manual_seed(43), dtype=torch.float64)
    v = torch.randn(8, 3, generator=torch.Generator().manual_seed(44), dtype=torch.float64)
    pw = torch.tensor([0.5, 1.0, 3.0], dtype=torch.float64)
    for family, got_fn, want_fn in [
            ("logits", lambda a, b: ct.binary_cross_entropy_with_logits(a, b, pos_weight=pw),
             lambda a, b: tF.binary_cross_entropy_with_logits(a, b, pos_weight=pw)),
            # the loss in plain logs (PyTorch's own double backward of
            # binary_cross_entropy adds 1e-12 to x and 1 - x: see the penalty test)
            ("probs", lambda a, b: ct.binary_cross_entropy(torch.sigmoid(a), b),
             lambda a, b: -(b * torch.log(torch.sigmoid(a))
                            + (1 - b) * torch.log1p(-torch.sigmoid(a))).mean())]:
        _, hvp1 = torch.autograd.functional.hvp(lambda a: got_fn(a, y), x, v)
        _, hvp2 = torch.autograd.functional.hvp(lambda a: want_fn(a, y), x, v)
        _close(hvp1, hvp2, f"hvp: {family}")
        yt1, yt2 = y.clone().requires_grad_(True), y.clone().requires_grad_(True)
        (gt1,) = torch.autograd.grad(got_fn(x, yt1), yt1)
        (gt2,) = torch.autograd.grad(want_fn(x, yt2), yt2)
        _close(gt1, gt2, f"target grad: {family}")


def test_target_gradient_without_cancellation():
    """d loss / d target is -x exactly for BCE with logits (PyTorch with a pos_weight of
    ones forms log_sigmoid(-x) - log_sigmoid(x), which cancels at small |x|), and
    log(1 - p) - log(p) to a few ulps at p near 1/2 for BCE on probabilities."""
    x = torch.tensor([1e-9, -3e-6, 0.25, -40.0, 700.0], dtype=torch.float64)
    y = torch.full_like(x, 0.3, requires_grad=True)
    (g,) = torch.autograd.grad(ct.binary_cross_entropy_with_logits(
        x, y, pos_weight=torch.ones(5, dtype=torch.float64), reduction="sum"), y)
    assert torch.equal(g, -x), g
    p = torch.tensor([0.5, 0.5 + 2**-40, 0.5 - 2**-30, 0.3, 1e-300], dtype=torch.float64)
    yp = torch.full_like(p, 0.3, requires_grad=True)
    (gp,) = torch.autograd.grad(ct.binary_cross_entropy(p, yp, reduction="sum"), yp)
    import mpmath
    with mpmath.workprec(200):
        want = [float(max(mpmath.log(1 - mpmath.mpf(float(a))), -100)
                      - max(mpmath.log(mpmath.mpf(float(a))), -100)) for a in p]
    want = torch.tensor(want, dtype=torch.float64)
    rel = ((gp - want).abs() / want.abs().clamp_min(1e-300))[1:]
    assert gp[0] == 0 and float(rel.max()) <= 4e-16, (gp, want)


@pytest.mark.parametrize("reduction", ["none", "mean", "weighted_mean"])
@pytest.mark.parametrize("case", [c for c in GRADCHECK_CASES if c[0] != "focal"],
                         ids=lambda c: f"{c[0]}-{c[1]}-w{c[2]}-pw{c[3]}")
def test_third_order_gradgradcheck(case, reduction):
    """BCE with logits and on probabilities, to any order: gradgradcheck of the first
    derivative checks the second and third (input, target and mixed)."""
    family = case[0]
    x, y, w, kw = _gradcheck_case(case, reduction, (4, 3), 46)

    def first_derivative(a, b):
        loss = FUNCS[family](a, b, w, **kw)
        return torch.autograd.grad(loss.sum(), (a, b), create_graph=True)

    inputs = (x.requires_grad_(True), y.requires_grad_(True))
    assert torch.autograd.gradgradcheck(first_derivative, inputs), f"{case} {reduction}"


def test_focal_third_derivative_raises_clearly():
    x, y = _data((4,), torch.float64, 45)
    x.requires_grad_(True)
    (g,) = torch.autograd.grad(ct.sigmoid_focal_loss(x, y), x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="third"):
        h.sum().backward()


# ---- torch.compile and torch.export ------------------------------------------------------

def test_compiled_training_step_matches_eager():
    """torch.compile(fullgraph=True) (a graph break raises) of a step using every registry
    family's loss (the written modules, and one made from the registry per other family,
    with settings other than its defaults), gradient taken by AOTAutograd: loss and
    parameter gradients as in eager."""
    def run(compile_it):
        torch.manual_seed(50)
        model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(),
                                    torch.nn.Linear(8, 3)).double()
        bce = ct.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0, 2.0, 0.5]),
                                   label_smoothing=0.1).double()
        probs = ct.BCELoss(weight=torch.tensor([1.0, 0.5, 2.0]), reduction="sum").double()
        focal = ct.SigmoidFocalLoss(gamma=1.5)
        made = [getattr(ct, f["cls"])(**{n: SETTINGS.get(n, d) for n, d in f["params"]},
                                      reduction="sum").double() for f in MADE]

        def step(X, Y):
            out = model(X)
            loss = bce(out, Y) + probs(torch.sigmoid(out), Y) + focal(out, Y)
            for m in made:
                loss = loss + m(out, Y)
            return loss

        fn = torch.compile(step, fullgraph=True) if compile_it else step
        g = torch.Generator().manual_seed(51)
        X = torch.randn(16, 6, generator=g, dtype=torch.float64)
        Y = (torch.rand(16, 3, generator=g, dtype=torch.float64) < 0.4).double()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = fn(X, Y)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        return torch.stack(losses), torch.cat([p.detach().flatten()
                                               for p in model.parameters()])

    torch._dynamo.reset()
    l1, p1 = run(True)
    l2, p2 = run(False)
    _close(l1, l2, "compile: losses")
    _close(p1, p2, "compile: parameters after 3 steps")


@pytest.mark.parametrize("cls", ["BCEWithLogitsLoss"] + [f["cls"] for f in MADE])
def test_export_module_with_a_cbce_loss(cls):
    fam = next(f for f in REGISTRY if f["cls"] == cls)
    settings = {n: SETTINGS.get(n, d) for n, d in fam["params"]}
    if fam["cls_weight"]:
        settings["weight"] = torch.tensor([1.0, 2.0, 0.5])

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 3)
            self.loss = getattr(ct, cls)(**settings)

        def forward(self, X, Y):
            return self.loss(self.lin(X), Y)

    torch.manual_seed(52)
    net = Net()
    X, Y = torch.randn(10, 4), (torch.rand(10, 3) < 0.5).float()
    ep = torch.export.export(net, (X, Y))
    assert "torch.ops.cbce.loss" in ep.graph_module.code
    X2, Y2 = torch.randn(10, 4), (torch.rand(10, 3) < 0.5).float()
    assert torch.equal(ep.module()(X2, Y2), net(X2, Y2))


def test_float16_is_computed_in_float32_and_kept_float16():
    x, y = _data((50,), torch.float32, 11)
    xh = x.half()
    l16 = ct.binary_cross_entropy_with_logits(xh, y, reduction="none")
    l32 = tF.binary_cross_entropy_with_logits(xh.float(), y, reduction="none")
    assert l16.dtype == torch.float16
    assert torch.equal(l16, l32.half()), "float16 loss is not float32's rounded to float16"
    assert ct.binary_cross_entropy_with_logits(xh, y).dtype == torch.float16


# ---- BCE on probabilities and focal ------------------------------------------------------

@pytest.mark.parametrize("dt", list(TDTYPES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("wkind,eps", [(None, 0.0), ("C", 0.0), ("full", 0.2)])
def test_bce_probabilities_parity(dt, reduction, wkind, eps):
    dtype = TDTYPES[dt]
    shape = (48, 4)
    x, y = _data(shape, dtype, 12)
    p = torch.sigmoid(x)
    p[0, 0], p[1, 1], p[2, 2] = 0.0, 1.0, 0.5  # the clamp at -100 and the 1e-12 floor
    w = _weights(wkind, shape, dtype, 13)
    ys = y * (1 - eps) + eps / 2
    case = f"{dt} {reduction} weight={wkind} eps={eps}"
    l1, g1 = _run(ct.BCELoss(weight=w, reduction=reduction, label_smoothing=eps), p, y)
    l2, g2 = _run(torch.nn.BCELoss(weight=w, reduction=reduction), p, ys)
    _close(l1, l2, f"loss: bce {case}")
    _close(g1, g2, f"grad: bce {case}")


def _torchvision_focal(x, y, alpha, gamma, reduction):
    """torchvision.ops.sigmoid_focal_loss, written out."""
    p = torch.sigmoid(x)
    ce = tF.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha is not None:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


@pytest.mark.parametrize("dt", list(TDTYPES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (None, 0.5), (0.6, 0.0), (None, 3.5)])
def test_sigmoid_focal_parity(dt, reduction, alpha, gamma):
    dtype = TDTYPES[dt]
    x, y = _data((64, 3), dtype, 14, scale=2.0)
    case = f"{dt} {reduction} alpha={alpha} gamma={gamma}"
    l1, g1 = _run(ct.SigmoidFocalLoss(alpha=alpha, gamma=gamma, reduction=reduction), x, y)
    l2, g2 = _run(lambda a: _torchvision_focal(a, y, alpha, gamma, reduction), x)
    _close(l1, l2, f"loss: focal {case}")
    _close(g1, g2, f"grad: focal {case}")


def test_focal_gradient_is_finite_where_torchvision_gives_nan():
    x = torch.tensor([40.0, -40.0, 0.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    ct.sigmoid_focal_loss(x, y, alpha=None, gamma=0.5, reduction="sum").backward()
    assert torch.isfinite(x.grad).all(), x.grad
    xr = x.detach().clone().requires_grad_(True)
    _torchvision_focal(xr, y, None, 0.5, "sum").backward()
    assert torch.isnan(xr.grad).any(), "the reference no longer shows the NaN it is cited for"


# ---- zero copy ------------------------------------------------------------------------

def test_tensors_reach_the_core_without_copies(monkeypatch):
    seen = {}
    real = cbce.binary_cross_entropy_with_logits_forward_backward

    def spy(input, target, weight=None, *, out=None, **kw):
        seen.update(input=input, target=target, weight=weight, out=out,
                    pos_weight=kw.get("pos_weight"))
        return real(input, target, weight, out=out, **kw)

    monkeypatch.setattr(cbce, "binary_cross_entropy_with_logits_forward_backward", spy)
    x, y = _data((20, 6), torch.float32, 15)
    x = x.t().requires_grad_(True)           # a strided (transposed) view
    y = y.t().to(torch.uint8)
    w = _weights("C", (6, 20), torch.float32, 16)
    pw = _weights("N1", (6, 20), torch.float32, 17)
    loss = ct.binary_cross_entropy_with_logits(x, y, w, pos_weight=pw, reduction="none")
    for name, t in (("input", x), ("target", y), ("weight", w), ("pos_weight", pw)):
        a = seen[name]
        assert isinstance(a, np.ndarray), name
        assert a.__array_interface__["data"][0] == t.data_ptr(), f"{name} was copied"
        assert a.strides == tuple(s * t.element_size() for s in t.stride()), name
    assert seen["out"][0].__array_interface__["data"][0] == loss.data_ptr(), "loss copied"
    loss.sum().backward()
    assert seen["out"][1].__array_interface__["data"][0] == x.grad.data_ptr() or \
        torch.equal(x.grad, torch.from_numpy(seen["out"][1])), "gradient not the core's"


def test_no_gradient_pass_when_not_needed(monkeypatch):
    called = []
    monkeypatch.setattr(cbce, "binary_cross_entropy_with_logits_forward_backward",
                        lambda *a, **k: called.append(1))
    x, y = _data((10,), torch.float64, 18)
    with torch.no_grad():
        ct.binary_cross_entropy_with_logits(x.requires_grad_(True), y)
    ct.binary_cross_entropy_with_logits(x.detach(), y)
    assert not called


# ---- errors ---------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("fam", REGISTRY, ids=[f["name"] for f in REGISTRY])
def test_clear_errors(fam):
    """Every family: tensors cbce cannot take are refused with a message naming what to do
    instead (the module too, for its buffers)."""
    fn, cls = getattr(ct, fam["python"]), getattr(ct, fam["cls"])
    x, y = _data((4, 3), torch.float32, 19)
    if fam["probs"]:
        x = torch.sigmoid(x)
    w = torch.ones(3, requires_grad=True)
    with pytest.raises(ValueError, match=r"weight requires grad.*weight.detach\(\)"):
        fn(x, y, w)
    if fam["pos_weight"]:
        with pytest.raises(ValueError, match="pos_weight requires grad"):
            cls(pos_weight=torch.nn.Parameter(torch.ones(3)))(x, y)
    with pytest.raises(ValueError, match=r"device 'meta'.*\.cpu\(\)"):
        fn(x.to("meta"), y)
    with pytest.raises(ValueError, match="weight is on device 'meta'"):
        fn(x, y, torch.ones(3, device="meta"))
    if fam["cls_weight"]:
        with pytest.raises(ValueError, match="weight is on device 'meta'"):
            cls(weight=torch.ones(3, device="meta"))(x, y)
    with pytest.raises(TypeError, match=r"bfloat16.*\.float\(\)"):
        fn(x.bfloat16(), y)
    with pytest.raises(TypeError, match=r"target has dtype torch.bfloat16.*target.float"):
        fn(x, y.bfloat16())
    with pytest.raises(TypeError, match=r"sparse.*to_dense\(\)"):
        fn(x.to_sparse(), y)
    with pytest.raises(TypeError, match=r"sparse.*to_dense\(\)"):
        fn(x, y.to_sparse_csr())
    nested = torch.nested.nested_tensor([x[0], x[1, :2]], layout=torch.jagged)
    with pytest.raises(TypeError, match=r"nested tensor.*each component"):
        fn(nested, nested)
    with pytest.raises(TypeError, match="int32"):
        fn(x.to(torch.int32), y)
    with pytest.raises(ValueError, match="shape"):
        fn(x, y[:2])
    with pytest.raises(ValueError, match="reduction"):
        cls(reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        fn(x, y, reduction="avg")


def test_clear_errors_of_settings():
    x, y = _data((4, 3), torch.float32, 19)
    with pytest.raises(ValueError, match=r"device 'meta'.*torch.nn.functional"):
        ct.binary_cross_entropy_with_logits(x.to("meta"), y)
    with pytest.raises(ValueError, match="label_smoothing"):
        ct.BCELoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="gamma"):
        ct.SigmoidFocalLoss(gamma=-1.0)
    with pytest.raises(ValueError, match="epsilon"):
        ct.Poly1Loss(epsilon=float("inf"))
    with pytest.raises(ValueError, match="clip"):
        ct.AsymmetricLoss(clip=1.0)
    with pytest.raises(ValueError):
        ct.binary_cross_entropy(x, y)  # logits are not probabilities


@pytest.mark.parametrize("func", [f["python"] + sfx for f in REGISTRY
                                  for sfx in ("", "_backward")])
def test_numpy_api_points_a_requires_grad_tensor_to_the_torch_integration(func):
    x = torch.full((3,), 0.5, requires_grad=True)
    y = torch.ones(3)
    fn = func.replace("_backward", "")
    with pytest.raises(TypeError, match=rf"requires grad.*cbce\.integrations\.torch\.{fn}"
                                        rf".*detach\(\)"):
        getattr(cbce, func)(x, y)
    with pytest.raises(TypeError, match="target is a torch.Tensor that requires grad"):
        getattr(cbce, func)(x.detach().numpy(), y.requires_grad_(True))
    assert np.isfinite(getattr(cbce, func)(x.detach(), y.detach())).all()  # detached: fine


# ---- modules --------------------------------------------------------------------------

def test_modules_repr_buffers_and_to():
    m = ct.BCEWithLogitsLoss(weight=[1.0, 2.0], pos_weight=torch.ones(2), label_smoothing=0.1)
    assert repr(m) == ("BCEWithLogitsLoss(weight=shape (2,), pos_weight=shape (2,), "
                       "reduction='mean', label_smoothing=0.1)")
    assert set(m.state_dict()) == {"weight", "pos_weight"}
    m = m.to(torch.float64)
    assert m.weight.dtype == torch.float64
    assert repr(ct.BCELoss()) == "BCELoss(weight=None, reduction='mean', label_smoothing=0.0)"
    assert repr(ct.SigmoidFocalLoss()) == "SigmoidFocalLoss(alpha=0.25, gamma=2.0, " \
                                          "reduction='mean')"


def test_training_loop_loss_curve_matches_torch():
    """Two identical MLPs trained with SGD+momentum for 60 steps, one on torch's loss, one
    on cbce's: the loss curves and final parameters agree."""
    g = torch.Generator().manual_seed(20)
    X = torch.randn(256, 8, generator=g)
    true_w = torch.randn(8, 3, generator=g)
    Y = (X @ true_w + 0.5 * torch.randn(256, 3, generator=g) > 0).float()
    pw = torch.tensor([1.0, 2.0, 0.5])

    def train(loss_fn):
        torch.manual_seed(21)
        model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(),
                                    torch.nn.Linear(16, 3))
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        curve = []
        for step in range(60):
            idx = torch.arange(step * 32, step * 32 + 32) % 256
            opt.zero_grad()
            loss = loss_fn(model(X[idx]), Y[idx])
            loss.backward()
            opt.step()
            curve.append(loss.item())
        return np.array(curve), torch.cat([p.detach().flatten() for p in model.parameters()])

    c1, p1 = train(ct.BCEWithLogitsLoss(pos_weight=pw))
    c2, p2 = train(torch.nn.BCEWithLogitsLoss(pos_weight=pw))
    diff = np.abs(c1 - c2).max()
    report_ulp("torch training loop: max |loss curve diff| (x 1e-5)", diff / 1e-5, 1.0)
    assert diff <= 1e-5, f"loss curves differ by {diff:.3g}"
    assert float((p1 - p2).abs().max()) <= 1e-4
    assert c1[-8:].mean() < 0.6 * c1[:8].mean(), f"did not train: {c1[:8]} .. {c1[-8:]}"


# ---- the other registry families: functions and modules made from the registry ----------



# per family without a written module, option sets (and weight, pos_weight kinds) that
# together give every parameter more than one value (None and 0 among them where the
# parameter takes them), and weights absent, broadcast and full
OPTIONS = {
    "poly1": [(dict(epsilon=-0.7, label_smoothing=0.1), "C", "N1"),
              (dict(epsilon=2.0, label_smoothing=0.0), None, "C"),
              (dict(epsilon=0.0, label_smoothing=0.3), "full", None)],
    "poly1_focal": [(dict(epsilon=-0.7, alpha=0.3, gamma=1.5, label_smoothing=0.1), "C", None),
                    (dict(epsilon=1.0, alpha=None, gamma=0.5, label_smoothing=0.0), None,
                     None),
                    (dict(epsilon=3.0, alpha=0.25, gamma=0.0, label_smoothing=0.2), "N1",
                     None),
                    (dict(epsilon=-0.2, alpha=0.6, gamma=3.5, label_smoothing=0.0), "full",
                     None)],
    "asymmetric": [(dict(gamma_pos=1.0, gamma_neg=2.0, clip=0.05), "C", None),
                   (dict(gamma_pos=0.0, gamma_neg=4.0, clip=0.0), None, None),
                   (dict(gamma_pos=2.5, gamma_neg=0.5, clip=0.2), "N1", None),
                   (dict(gamma_pos=0.0, gamma_neg=0.0, clip=0.1), "full", None)],
}
OPTION_CASES = [(f, *o) for f in MADE for o in OPTIONS[f["name"]]]


def test_option_sets_cover_every_parameter():
    for fam in MADE:
        sets = OPTIONS[fam["name"]]   # a family added to the registry needs its option sets
        for name, _ in fam["params"]:
            assert len({o[name] for o, _, _ in sets}) >= 2, (fam["name"], name)
        assert {w for _, w, _ in sets} >= {None, "C", "full"}, fam["name"]
        if fam["pos_weight"]:
            assert any(p is not None for _, _, p in sets), fam["name"]


@pytest.mark.parametrize("reduction", REDUCTIONS + ["weighted_mean"])
@pytest.mark.parametrize("fam,opts,wkind,pkind", OPTION_CASES,
                         ids=[f"{c[0]['name']}-{c[1]}-w{c[2]}-pw{c[3]}" for c in OPTION_CASES])
def test_registry_families_gradcheck_every_option(fam, opts, wkind, pkind, reduction):
    """First and second derivatives w.r.t. the input, float64, against finite differences,
    on soft targets (hard ones for the values test below)."""
    x, _ = _data((5, 3), torch.float64, 60, scale=2.0)
    y = torch.rand((5, 3), generator=torch.Generator().manual_seed(61), dtype=torch.float64)
    w = _weights(wkind, (5, 3), torch.float64, 62)
    kw = dict(opts, reduction=reduction)
    if pkind is not None:
        kw["pos_weight"] = _weights(pkind, (5, 3), torch.float64, 63)
    fn = getattr(ct, fam["python"])

    def f(a):
        return fn(a, y, w, **kw)

    name = f"{fam['name']} {opts} weight={wkind} pos_weight={pkind} {reduction}"
    xr = x.requires_grad_(True)
    assert torch.autograd.gradcheck(f, (xr,)), name
    assert torch.autograd.gradgradcheck(f, (xr,)), name


@pytest.mark.parametrize("fam", MADE, ids=[f["name"] for f in MADE])
@pytest.mark.parametrize("reduction", REDUCTIONS + ["weighted_mean"])
def test_registry_families_values_and_modules(fam, reduction):
    """Every family without a written module: the loss and gradient equal cbce's NumPy
    functions bit for bit, the target is refused when it requires grad, the module holds
    the settings, a third derivative is refused clearly."""
    fn, cls = getattr(ct, fam["python"]), getattr(ct, fam["cls"])
    kw = {n: SETTINGS.get(n, d) for n, d in fam["params"]}
    x, y = _data((5, 3), torch.float64, 40)
    x = x.detach()
    w = _weights("C", (5, 3), torch.float64, 41)
    if fam["pos_weight"]:
        kw["pos_weight"] = _weights("N1", (5, 3), torch.float64, 42)
    xr = x.clone().requires_grad_(True)
    loss = fn(xr, y, w, reduction=reduction, **kw)
    npkw = {k: (v.detach().numpy() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}
    want_l, want_g = getattr(cbce, fam["python"] + "_forward_backward")(
        x.detach().numpy(), y.numpy(), w.numpy(), reduction=reduction, **npkw)
    assert np.array_equal(loss.detach().numpy(), want_l), fam["name"]
    (g,) = torch.autograd.grad(loss.sum(), xr)
    if reduction == "none":
        want_g = getattr(cbce, fam["python"] + "_backward")(
            x.detach().numpy(), y.numpy(), w.numpy(), reduction="none", **npkw)
    assert np.array_equal(g.detach().numpy(), want_g), fam["name"]

    def f(a):
        return fn(a, y, w, reduction=reduction, **kw)

    with pytest.raises(ValueError, match="target.detach"):
        fn(xr, y.clone().requires_grad_(True), **kw)
    m = cls(**{k: v for k, v in kw.items()}, reduction=reduction)
    assert torch.equal(m(x, y), fn(x, y, reduction=reduction, **kw))
    for n, v in kw.items():
        assert (f"{n}=shape" if isinstance(v, torch.Tensor) else f"{n}={v!r}") in repr(m)
    (g1,) = torch.autograd.grad(f(xr).sum(), xr, create_graph=True)
    with pytest.raises(RuntimeError, match="second order"):
        torch.autograd.grad(torch.autograd.grad(g1.sum(), xr, create_graph=True)[0].sum(), xr)
