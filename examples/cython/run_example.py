"""Run the cbce_example extension and check it against the plain formula."""
import array
import math

import cbce
import cbce_example

linked, header = cbce_example.version()
print(f"cbce_example: core {linked} linked in, header {header}, Python package {cbce.__version__}")
assert linked == header == cbce.__version__, (linked, header, cbce.__version__)

x = array.array("d", [-3.0, -0.5, 0.0, 0.5, 2.0, 40.0])
y = array.array("d", [0.0, 1.0, 0.5, 1.0, 0.0, 1.0])
want = [max(a, 0) - a * b + math.log1p(math.exp(-abs(a))) for a, b in zip(x, y)]
got = cbce_example.bce_with_logits(x, y, "sum")
assert math.isclose(got, math.fsum(want), rel_tol=1e-15), (got, math.fsum(want))
got = cbce_example.bce_with_logits(x, y)
assert math.isclose(got, math.fsum(want) / len(x), rel_tol=1e-15)
same = cbce.binary_cross_entropy_with_logits(x, y)
assert got == same, ("the extension and the package disagree", got, same)
print(f"mean loss {got!r} (the package gives {same!r})")

try:
    cbce_example.bce_with_logits(x, y, "median")
except ValueError as e:
    print("bad reduction ->", e)
else:
    raise AssertionError("a bad reduction was accepted")

s = array.array("d", [0.0, 2.0, -40.0])
cbce_example.sigmoid_(s)
assert s[0] == 0.5 and math.isclose(s[1], 1 / (1 + math.exp(-2.0)), rel_tol=1e-15), list(s)
print("sigmoid in place", list(s))
print("ok")
