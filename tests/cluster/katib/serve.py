"""Serves one of Katib's Python suggestion or early-stopping services on a loopback port.

Katib v0.19.0's own entry points (github.com/kubeflow/katib cmd/suggestion/*/v1beta1/main.py,
cmd/earlystopping/medianstop/v1beta1/main.py) bind 0.0.0.0:6789 (6788), which a test may not
do and which would clash between concurrent runs. This wires the same servicer classes the same
way (a thread-pool gRPC server, the Suggestion or EarlyStopping servicer plus the Health servicer
the suggestion services implement) on 127.0.0.1 with a port the kernel picks, printed on stdout.
The upstream code is imported from the Go module cache (PYTHONPATH as the release's Dockerfiles
set it), never copied.

Usage: python serve.py suggestion|earlystopping MODULE CLASS
"""

import importlib
import sys
from concurrent import futures

import grpc
from pkg.apis.manager.health.python import health_pb2_grpc
from pkg.apis.manager.v1beta1.python import api_pb2_grpc


def main() -> None:
    kind, module, cls = sys.argv[1:4]
    service = getattr(importlib.import_module(module), cls)()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))
    if kind == "suggestion":
        api_pb2_grpc.add_SuggestionServicer_to_server(service, server)
        health_pb2_grpc.add_HealthServicer_to_server(service, server)
    elif kind == "earlystopping":
        api_pb2_grpc.add_EarlyStoppingServicer_to_server(service, server)
    else:
        sys.exit(f"serve.py: unknown kind {kind!r} (suggestion or earlystopping)")
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    # Serves until the client closes our stdin (or the process is ended), so no server outlives it.
    sys.stdin.read()
    server.stop(0)


if __name__ == "__main__":
    main()
