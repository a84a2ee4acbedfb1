"""Serve the iris model over KServe's V1 and V2 (Open Inference Protocol) HTTP APIs.

Usage: predict.py --model MODEL_DIR --port PORT [--host 127.0.0.1]

The model is loaded before the port opens, so a server that answers is ready.
The served name is $KFL_MODEL_NAME (default "iris"), its version
$KFL_MODEL_VERSION (default "1"). PORT 0 picks a free port; the bound address
is printed as `listening on HOST:PORT` on stderr.

V2: GET /v2 (server metadata), /v2/health/live, /v2/health/ready, /v2/models/NAME, /v2/models/NAME/ready;
    POST /v2/models/NAME/infer with one FP32/FP64 input of shape [N, 4] (flat
    or nested data) -> one BYTES output "species" of shape [N].
V1: GET /v1/models/NAME; POST /v1/models/NAME:predict {"instances": [[4 numbers] or
    {feature: number}]} -> {"predictions": [species, ...]}.
Bad requests get a JSON {"error": ...} with status 400, unknown paths 404.
"""

import argparse
import json
import math
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mlp

MAX_BODY_BYTES = 8 * 1024 * 1024
NUMERIC_TYPES = {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}


class BadRequest(Exception):
    """A request the predictor refuses, with the reason sent back as JSON."""


def flatten(data):
    if isinstance(data, list):
        return [v for item in data for v in flatten(item)]
    return [data]


def number(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest(f"{where}: expected a finite number, got {json.dumps(value)}")
    return float(value)


class Predictor:
    def __init__(self, model, name, version):
        self.model, self.name, self.version = model, name, version
        self.width = len(model.features)

    def metadata(self):
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": "kfl-python-mlp",
            "inputs": [{"name": "input-0", "datatype": "FP32", "shape": [-1, self.width]}],
            "outputs": [{"name": "species", "datatype": "BYTES", "shape": [-1]}],
        }

    def infer_v2(self, body):
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
            raise BadRequest("expected \"inputs\": a list with exactly one tensor")
        tensor = inputs[0]
        datatype, shape = tensor.get("datatype"), tensor.get("shape")
        if datatype not in NUMERIC_TYPES:
            raise BadRequest(f"input datatype must be numeric (e.g. FP32), got {json.dumps(datatype)}")
        if (not isinstance(shape, list) or len(shape) != 2
                or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
            raise BadRequest(f"input shape must be [N, {self.width}], got {json.dumps(shape)}")
        if shape[1] != self.width:
            raise BadRequest(f"input shape must be [N, {self.width}], got {shape}")
        flat = flatten(tensor.get("data"))
        if len(flat) != shape[0] * shape[1]:
            raise BadRequest(f"shape {shape} needs {shape[0] * shape[1]} values, data has {len(flat)}")
        values = [number(v, f"data[{i}]") for i, v in enumerate(flat)]
        rows = [values[i : i + self.width] for i in range(0, len(values), self.width)]
        species = self.model.predict(rows)
        response = {
            "model_name": self.name,
            "model_version": self.version,
            "outputs": [{"name": "species", "datatype": "BYTES", "shape": [len(species)], "data": species}],
        }
        if "id" in body:
            response["id"] = body["id"]
        return response

    def predict_v1(self, body):
        instances = body.get("instances") if isinstance(body, dict) else None
        if not isinstance(instances, list):
            raise BadRequest("expected {\"instances\": [[...], ...]}")
        rows = []
        for i, instance in enumerate(instances):
            if isinstance(instance, dict):
                missing = [f for f in self.model.features if f not in instance]
                if missing:
                    raise BadRequest(f"instances[{i}]: missing features {missing}")
                instance = [instance[f] for f in self.model.features]
            if not isinstance(instance, list) or len(instance) != self.width:
                raise BadRequest(f"instances[{i}]: expected {self.width} numbers")
            rows.append([number(v, f"instances[{i}][{j}]") for j, v in enumerate(instance)])
        return {"predictions": self.model.predict(rows)}


def make_handler(predictor):
    v2_model = f"/v2/models/{predictor.name}"
    v1_model = f"/v1/models/{predictor.name}"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are two writes: with Nagle the body waits for the router's delayed ACK (40 ms).
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):
            sys.stderr.write(f"predict: {self.address_string()} {fmt % args}\n")

        def reply(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/v2":
                self.reply(200, {"name": "kfl-iris-predictor", "version": "1", "extensions": []})
            elif path in ("/v2/health/live", "/v2/health/ready"):
                self.reply(200, {"live": True} if path.endswith("live") else {"ready": True})
            elif path in (v2_model, f"{v2_model}/versions/{predictor.version}"):
                self.reply(200, predictor.metadata())
            elif path == f"{v2_model}/ready":
                self.reply(200, {"name": predictor.name, "ready": True})
            elif path in (v1_model, "/v1/models"):
                if path == "/v1/models":
                    self.reply(200, {"models": [predictor.name]})
                else:
                    self.reply(200, {"name": predictor.name, "ready": True})
            elif path == "/":
                self.reply(200, {"status": "alive"})
            else:
                self.reply(404, {"error": f"no such endpoint: GET {path}"})

        def do_POST(self):
            path = self.path.split("?", 1)[0]
            if path in (f"{v2_model}/infer", f"{v2_model}/versions/{predictor.version}/infer"):
                action = predictor.infer_v2
            elif path == f"{v1_model}:predict":
                action = predictor.predict_v1
            else:
                self.discard_body()
                self.reply(404, {"error": f"no such endpoint: POST {path}"})
                return
            try:
                body = self.read_json()
                self.reply(200, action(body))
            except BadRequest as err:
                self.reply(400, {"error": str(err)})

        def discard_body(self):
            length = self.headers.get("Content-Length")
            if length and length.isdigit() and int(length) <= MAX_BODY_BYTES:
                self.rfile.read(int(length))
            else:
                self.close_connection = True

        def read_json(self):
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self.close_connection = True
                raise BadRequest("a Content-Length header is required")
            if int(length) > MAX_BODY_BYTES:
                self.close_connection = True
                raise BadRequest(f"body of {length} bytes exceeds the {MAX_BODY_BYTES}-byte limit")
            raw = self.rfile.read(int(length))
            try:
                return json.loads(raw)
            except (ValueError, UnicodeDecodeError) as err:
                raise BadRequest(f"body is not JSON: {err}") from None

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: under a few hundred concurrent clients the kernel drops
    # connection attempts past it and each one waits out TCP's SYN retry (1 s, 3 s, ...).
    request_queue_size = 1024


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    try:
        model = mlp.load(args.model)
    except mlp.TableError as err:
        sys.exit(f"predict: {err}")
    name = os.environ.get("KFL_MODEL_NAME") or "iris"
    version = os.environ.get("KFL_MODEL_VERSION") or "1"
    predictor = Predictor(model, name, version)
    try:
        server = Server((args.host, args.port), make_handler(predictor))
    except OSError as err:
        sys.exit(f"predict: cannot listen on {args.host}:{args.port}: {err.strerror}")

    def stop(signum, frame):
        # shutdown() waits for serve_forever, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    print(f"listening on {host}:{port}", file=sys.stderr, flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
