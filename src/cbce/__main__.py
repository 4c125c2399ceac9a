"""usage: python -m cbce [bench [--json]]

python -m cbce               version, SIMD level, a worked example, a quick speed comparison
python -m cbce bench         the full peer benchmark (float32/float64, 10^3..10^7 elements;
                             threads, memory, and the other functions at 10^6)
python -m cbce bench --json  the same at one and two threads, as JSON (for the docs' plots)"""
import sys

import numpy as np

import cbce
from cbce import _bench


def main(argv):
    if argv == ["bench"]:
        _bench.report()
        _bench.report_targets()
        _bench.report_families()
        return 0
    if argv == ["bench", "--json"]:
        _bench.report_json()
        return 0
    if argv:
        print(f"python -m cbce: unknown command {' '.join(argv)!r}\n\n{__doc__}",
              file=sys.stderr)
        return 2
    print(f"cbce {cbce.__version__}")
    cbce.show_config()
    print("\nWorked example: logits x = -40, 0, 3 with labels 0, 1, 1")
    x = np.array([-40.0, 0.0, 3.0])
    y = np.array([0.0, 1.0, 1.0])
    print("  loss per element :", cbce.binary_cross_entropy_with_logits(x, y, reduction="none"))
    print("  naive (1-y)*x - log(sigmoid(x)):",
          (1 - y) * x - np.log(1 / (1 + np.exp(-x))))
    print("  (the true loss at x = -40, y = 0 is 4.248354255291589e-18: the naive form returns 0)")
    print("  gradient         :",
          cbce.binary_cross_entropy_with_logits_backward(x, y, reduction="none"))
    print("  mean loss, label_smoothing=0.1:",
          cbce.binary_cross_entropy_with_logits(x, y, label_smoothing=0.1))
    print("\nQuick speed comparison, float32, 10^6 elements, one thread:")
    _bench.report(sizes=(10**6,), dtypes=("float32",), min_time=0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
