"""Writes the same N-stage chain twice: as a .kfl file and as a KFP SDK script.

    python3 bench/chain.py N OUT_DIR

Each stage has an image, a command with arguments, one input parameter and
one output artifact passed on to the next stage: the shape the KFP SDK
anchor in ../shared/anchors/README.md was measured on.
"""
import sys
from pathlib import Path


def kfl(n: int) -> str:
    lines = ["project chain {", '  image = "python:3.12-slim"', "}", ""]
    for i in range(n):
        data = f"data: Dataset = s{i - 1}.out, " if i else ""
        run_in = "data, " if i else ""
        lines += [
            f"step s{i}({data}k: int = {i}) -> (out: Dataset) {{",
            f'  run = ["python3", "-c", "import sys; open(sys.argv[-1], \'w\').write(sys.argv[1])", {run_in}"--k", k, out]',
            "}",
            "",
        ]
    return "\n".join(lines)


def kfp(n: int) -> str:
    return f'''import sys
from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Output


@dsl.container_component
def first(k: int, out: Output[Dataset]):
    return dsl.ContainerSpec(image="python:3.12-slim", command=["python3", "-c"],
                             args=["import sys; open(sys.argv[-1], 'w').write(sys.argv[1])", "--k", k, out.path])


@dsl.container_component
def step(data: Input[Dataset], k: int, out: Output[Dataset]):
    return dsl.ContainerSpec(image="python:3.12-slim", command=["python3", "-c"],
                             args=["import sys; open(sys.argv[-1], 'w').write(sys.argv[1])", data.path, "--k", k, out.path])


@dsl.pipeline(name="chain")
def chain():
    previous = first(k=0)
    for i in range(1, {n}):
        previous = step(data=previous.outputs["out"], k=i)


compiler.Compiler().compile(chain, sys.argv[1])
'''


def main():
    n = int(sys.argv[1])
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    (out / f"chain{n}.kfl").write_text(kfl(n))
    (out / f"chain{n}_kfp.py").write_text(kfp(n))


if __name__ == "__main__":
    main()
