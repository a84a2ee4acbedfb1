"""The iris model shared by train.py, evaluate.py and predict.py.

A one-hidden-layer perceptron (tanh hidden layer, softmax output) in pure
Python, with the feature standardization it was trained with. It is saved as
`model.json` inside the model directory, so every step reads the same format.
"""

import csv
import json
import math
import os
import random

MODEL_FILE = "model.json"
FORMAT = "kfl-iris-mlp"
LABEL = "species"


class TableError(Exception):
    """A CSV table that cannot be used (missing file, column or bad number)."""


def read_table(path):
    """Reads a CSV with a header; returns (feature names, feature rows, labels)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise TableError(f"{path}: empty file, expected a header line")
            if LABEL not in header:
                raise TableError(f"{path}: no '{LABEL}' column in header {header}")
            label_at = header.index(LABEL)
            names = [name for i, name in enumerate(header) if i != label_at]
            rows, labels = [], []
            for line_no, record in enumerate(reader, start=2):
                if not record:
                    continue
                if len(record) != len(header):
                    raise TableError(f"{path}:{line_no}: {len(record)} fields, header has {len(header)}")
                try:
                    rows.append([float(v) for i, v in enumerate(record) if i != label_at])
                except ValueError as err:
                    raise TableError(f"{path}:{line_no}: {err}") from None
                labels.append(record[label_at])
    except OSError as err:
        raise TableError(f"cannot read {path}: {err.strerror}") from None
    if not rows:
        raise TableError(f"{path}: no data rows")
    return names, rows, labels


class Mlp:
    """Weights of a features -> hidden (tanh) -> classes (softmax) network."""

    def __init__(self, features, classes, hidden, seed):
        rng = random.Random(seed)
        n_in, n_out = len(features), len(classes)
        self.features = list(features)
        self.classes = list(classes)
        self.hidden = hidden
        self.mean = [0.0] * n_in
        self.std = [1.0] * n_in
        # Xavier-style scaling keeps tanh out of saturation at the start.
        s1, s2 = math.sqrt(1.0 / n_in), math.sqrt(1.0 / hidden)
        self.w1 = [[rng.gauss(0.0, s1) for _ in range(n_in)] for _ in range(hidden)]
        self.b1 = [0.0] * hidden
        self.w2 = [[rng.gauss(0.0, s2) for _ in range(hidden)] for _ in range(n_out)]
        self.b2 = [0.0] * n_out

    def fit_standardization(self, rows):
        n = len(rows)
        for j in range(len(self.features)):
            column = [row[j] for row in rows]
            mean = sum(column) / n
            var = sum((v - mean) ** 2 for v in column) / n
            self.mean[j] = mean
            self.std[j] = math.sqrt(var) if var > 0 else 1.0

    def standardize(self, row):
        return [(v - m) / s for v, m, s in zip(row, self.mean, self.std)]

    def forward(self, x):
        """Hidden activations and class probabilities for one standardized row."""
        h = [math.tanh(b + sum(w * v for w, v in zip(ws, x))) for ws, b in zip(self.w1, self.b1)]
        z = [b + sum(w * v for w, v in zip(ws, h)) for ws, b in zip(self.w2, self.b2)]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = sum(e)
        return h, [v / total for v in e]

    def predict(self, rows):
        out = []
        for row in rows:
            _, p = self.forward(self.standardize(row))
            out.append(self.classes[max(range(len(p)), key=p.__getitem__)])
        return out

    def sgd_step(self, batch, targets, lr):
        """One minibatch gradient step on cross-entropy; returns the batch's summed loss."""
        n_in, n_out = len(self.features), len(self.classes)
        gw1 = [[0.0] * n_in for _ in range(self.hidden)]
        gb1 = [0.0] * self.hidden
        gw2 = [[0.0] * self.hidden for _ in range(n_out)]
        gb2 = [0.0] * n_out
        loss = 0.0
        for x, t in zip(batch, targets):
            h, p = self.forward(x)
            loss -= math.log(max(p[t], 1e-12))
            dz = [p[k] - (1.0 if k == t else 0.0) for k in range(n_out)]
            for k in range(n_out):
                gb2[k] += dz[k]
                row = gw2[k]
                for j in range(self.hidden):
                    row[j] += dz[k] * h[j]
            for j in range(self.hidden):
                dh = sum(dz[k] * self.w2[k][j] for k in range(n_out)) * (1.0 - h[j] * h[j])
                gb1[j] += dh
                row = gw1[j]
                for i in range(n_in):
                    row[i] += dh * x[i]
        scale = lr / len(batch)
        for j in range(self.hidden):
            self.b1[j] -= scale * gb1[j]
            for i in range(n_in):
                self.w1[j][i] -= scale * gw1[j][i]
        for k in range(n_out):
            self.b2[k] -= scale * gb2[k]
            for j in range(self.hidden):
                self.w2[k][j] -= scale * gw2[k][j]
        return loss

    def flat_weights(self):
        flat = [v for ws in self.w1 for v in ws] + list(self.b1)
        return flat + [v for ws in self.w2 for v in ws] + list(self.b2)

    def set_flat_weights(self, flat):
        n_in, n_out, h = len(self.features), len(self.classes), self.hidden
        it = iter(flat)
        self.w1 = [[next(it) for _ in range(n_in)] for _ in range(h)]
        self.b1 = [next(it) for _ in range(h)]
        self.w2 = [[next(it) for _ in range(h)] for _ in range(n_out)]
        self.b2 = [next(it) for _ in range(n_out)]

    def to_json(self, extra):
        return {
            "format": FORMAT,
            "features": self.features,
            "classes": self.classes,
            "hidden": self.hidden,
            "mean": self.mean,
            "std": self.std,
            "w1": self.w1,
            "b1": self.b1,
            "w2": self.w2,
            "b2": self.b2,
            **extra,
        }


def save(model, directory, extra):
    """Writes `directory/model.json`, creating the directory; the rename makes it appear whole."""
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, MODEL_FILE)
    tmp = target + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(model.to_json(extra), handle, indent=1)
        handle.write("\n")
    os.replace(tmp, target)


def load(directory):
    """Reads a model directory written by `save`; raises TableError with the reason."""
    path = os.path.join(directory, MODEL_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as err:
        raise TableError(f"cannot read model {path}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise TableError(f"model {path} is not JSON: {err}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TableError(f"model {path}: not a {FORMAT} model")
    try:
        model = Mlp(data["features"], data["classes"], int(data["hidden"]), 0)
        model.mean, model.std = list(data["mean"]), list(data["std"])
        model.w1, model.b1, model.w2, model.b2 = data["w1"], data["b1"], data["w2"], data["b2"]
    except (KeyError, TypeError, ValueError) as err:
        raise TableError(f"model {path}: missing or bad field {err}") from None
    return model
