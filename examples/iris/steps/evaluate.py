"""Test accuracy of a trained iris model.

Usage: evaluate.py MODEL_DIR TEST_CSV ACCURACY_FILE

Writes the accuracy (a float in [0, 1]) into ACCURACY_FILE as text and prints
`accuracy=…` (Katib's StdOut metric format).
"""

import os
import sys

import mlp


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: evaluate.py MODEL_DIR TEST_CSV ACCURACY_FILE")
    model_dir, test_path, accuracy_path = argv
    try:
        model = mlp.load(model_dir)
        features, rows, labels = mlp.read_table(test_path)
    except mlp.TableError as err:
        sys.exit(f"evaluate: {err}")
    if features != model.features:
        sys.exit(f"evaluate: {test_path} has features {features}, the model expects {model.features}")
    predicted = model.predict(rows)
    accuracy = sum(p == t for p, t in zip(predicted, labels)) / len(labels)
    parent = os.path.dirname(accuracy_path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(accuracy_path, "w", encoding="utf-8") as handle:
        handle.write(f"{accuracy}\n")
    print(f"accuracy={accuracy}")


if __name__ == "__main__":
    main(sys.argv[1:])
