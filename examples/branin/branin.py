"""The Branin function (../shared/anchors/OBJECTIVES.md) as a trial: prints `value=…` for kfl's tune.

    python3 branin.py X1 X2
"""
import math
import sys


def branin(x1: float, x2: float) -> float:
    a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


if __name__ == "__main__":
    assert abs(branin(0, 0) - 55.602112642270264) < 1e-9
    print(f"value={branin(float(sys.argv[1]), float(sys.argv[2]))!r}")
