"""Writes N trivial stages (`true`) as a .kfl file, for the scheduler-overhead benchmark.

    python3 bench/trivial.py wide|chain N > FILE.kfl

`wide`: N independent stages; `chain`: each stage runs `after` the previous one.
"""
import sys


def main() -> None:
    shape, n = sys.argv[1], int(sys.argv[2])
    lines = ["project trivial {", '  image = "busybox"', "}", ""]
    for i in range(n):
        after = f"\n  after = [s{i - 1}]" if shape == "chain" and i else ""
        lines += [f"step s{i}() {{", '  run = ["true"]' + after, "}", ""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
