"""End-to-end check of the iris steps: prepare -> train (1 and 2 ranks) -> evaluate -> predict.

Run: python3 examples/iris/steps/test_steps.py   (standard library only)
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

STEPS = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(STEPS, "..", "data", "iris.csv")
# (features, species) rows of the data set, one per class and a border case.
KNOWN = [
    ([5.1, 3.5, 1.4, 0.2], "setosa"),
    ([7.0, 3.2, 4.7, 1.4], "versicolor"),
    ([6.3, 3.3, 6.0, 2.5], "virginica"),
    ([7.7, 3.8, 6.7, 2.2], "virginica"),
]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def step(name, *args, env=None):
    return subprocess.run([sys.executable, os.path.join(STEPS, name), *args], capture_output=True, text=True,
                          env=env, timeout=120)


def metrics(stdout):
    """Katib StdOut lines (`name=value`) as a list of (name, float)."""
    out = []
    for line in stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            out.append((name, float(value)))
    return out


class IrisSteps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.train_csv = os.path.join(cls.dir, "prepare", "train.csv")
        cls.test_csv = os.path.join(cls.dir, "prepare", "test.csv")
        rows = os.path.join(cls.dir, "prepare", "rows")
        done = step("prepare.py", DATA, cls.train_csv, cls.test_csv, "--test-fraction", "0.2", "--rows-out", rows)
        assert done.returncode == 0, done.stderr
        with open(rows) as handle:
            cls.rows = handle.read().strip()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def train(self, out, world=1):
        args = ["--data", self.train_csv, "--lr", "0.1", "--hidden", "16", "--epochs", "30", "--out", out]
        if world == 1:
            done = step("train.py", *args)
            self.assertEqual(done.returncode, 0, done.stderr)
            return done.stdout
        port = str(free_port())
        procs = []
        for rank in reversed(range(world)):  # the workers first: they must wait for rank 0
            env = dict(os.environ, WORLD_SIZE=str(world), RANK=str(rank), MASTER_ADDR="127.0.0.1",
                       MASTER_PORT=port)
            procs.append(subprocess.Popen([sys.executable, os.path.join(STEPS, "train.py"), *args], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outputs = [p.communicate(timeout=120) for p in procs]
        for p, (_, err) in zip(procs, outputs):
            self.assertEqual(p.returncode, 0, err)
        for rank_above_0_stdout, _ in outputs[:-1]:
            self.assertEqual(rank_above_0_stdout, "", "only rank 0 prints metrics")
        return outputs[-1][0]

    def evaluate(self, model):
        accuracy_file = os.path.join(self.dir, "accuracy-" + os.path.basename(model))
        done = step("evaluate.py", model, self.test_csv, accuracy_file)
        self.assertEqual(done.returncode, 0, done.stderr)
        with open(accuracy_file) as handle:
            accuracy = float(handle.read())
        self.assertIn(f"accuracy={accuracy}", done.stdout)
        return accuracy

    def test_prepare_is_stratified_and_counts_rows(self):
        self.assertEqual(self.rows, "150")
        for path, per_class in ((self.train_csv, 40), (self.test_csv, 10)):
            with open(path) as handle:
                species = [line.rsplit(",", 1)[1].strip() for line in handle.readlines()[1:]]
            for name in ("setosa", "versicolor", "virginica"):
                self.assertEqual(species.count(name), per_class, path)

    def test_prepare_is_deterministic(self):
        again = os.path.join(self.dir, "again")
        done = step("prepare.py", DATA, again + "/train.csv", again + "/test.csv", "--test-fraction", "0.2")
        self.assertEqual(done.returncode, 0, done.stderr)
        with open(self.test_csv) as first, open(again + "/test.csv") as second:
            self.assertEqual(first.read(), second.read())

    def test_one_rank_trains_above_0_9(self):
        model = os.path.join(self.dir, "model-1")
        stdout = self.train(model)
        seen = metrics(stdout)
        self.assertEqual([n for n, _ in seen], ["accuracy", "loss"] * 30)
        self.assertLess(seen[-1][1], seen[1][1], "loss must fall")
        with open(os.path.join(model, "model.json")) as handle:
            saved = json.load(handle)
        self.assertEqual(len(saved["w1"]), 16, "--hidden sets the hidden layer width")
        self.assertGreater(self.evaluate(model), 0.9)

    def test_hidden_is_honoured(self):
        model = os.path.join(self.dir, "model-h8")
        done = step("train.py", "--data", self.train_csv, "--hidden", "8", "--epochs", "2", "--out", model)
        self.assertEqual(done.returncode, 0, done.stderr)
        with open(os.path.join(model, "model.json")) as handle:
            self.assertEqual(len(json.load(handle)["w1"]), 8)

    def test_two_ranks_train_above_0_9(self):
        model = os.path.join(self.dir, "model-2")
        stdout = self.train(model, world=2)
        self.assertEqual(len(metrics(stdout)), 60)
        self.assertGreater(self.evaluate(model), 0.9)
        with open(os.path.join(model, "model.json")) as handle:
            self.assertEqual(json.load(handle)["params"]["world_size"], 2)

    def test_a_rank_without_its_peer_fails(self):
        env = dict(os.environ, WORLD_SIZE="2", RANK="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()),
                   KFL_RENDEZVOUS_TIMEOUT="1")
        done = step("train.py", "--data", self.train_csv, "--out", os.path.join(self.dir, "lonely"), env=env)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("cannot reach rank 0", done.stderr)

    def test_predictor_answers_v1_and_v2(self):
        model = os.path.join(self.dir, "model-serve")
        self.train(model)
        port = free_port()
        server = subprocess.Popen([sys.executable, os.path.join(STEPS, "predict.py"), "--model", model,
                                   "--port", str(port)], stderr=subprocess.PIPE, text=True)
        try:
            self.assertIn("listening on", server.stderr.readline())
            base = f"http://127.0.0.1:{port}"

            def call(path, body=None):
                data = None if body is None else json.dumps(body).encode()
                request = urllib.request.Request(base + path, data=data,
                                                 headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        return response.status, json.load(response)
                except urllib.error.HTTPError as err:
                    return err.code, json.load(err)

            self.assertEqual(call("/v2/health/ready"), (200, {"ready": True}))
            self.assertEqual(call("/v2/models/iris/ready")[0], 200)
            self.assertEqual(call("/v2/models/iris")[1]["inputs"][0]["shape"], [-1, 4])
            rows = [features for features, _ in KNOWN]
            expected = [species for _, species in KNOWN]
            flat = [v for row in rows for v in row]
            status, body = call("/v2/models/iris/infer",
                                {"id": "r1", "inputs": [{"name": "x", "shape": [4, 4], "datatype": "FP32",
                                                         "data": flat}]})
            self.assertEqual(status, 200, body)
            self.assertEqual(body["id"], "r1")
            self.assertEqual(body["outputs"][0]["data"], expected)
            self.assertEqual(body["outputs"][0]["shape"], [4])
            status, body = call("/v2/models/iris/infer",
                                {"inputs": [{"name": "x", "shape": [4, 4], "datatype": "FP32", "data": rows}]})
            self.assertEqual(body["outputs"][0]["data"], expected)
            status, body = call("/v1/models/iris:predict", {"instances": rows})
            self.assertEqual((status, body), (200, {"predictions": expected}))
            status, body = call("/v2/models/iris/infer",
                                {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]})
            self.assertEqual(status, 400)
            self.assertIn("shape", body["error"])
            status, body = call("/v1/models/iris:predict", {"instances": [[1, 2, "x", 4]]})
            self.assertEqual(status, 400)
            self.assertEqual(call("/v2/models/other/ready")[0], 404)
        finally:
            server.terminate()
            server.wait(timeout=10)
            server.stderr.close()


if __name__ == "__main__":
    unittest.main()
