#!/usr/bin/env python3
"""Measures `kfl lsp`: time from `didChange` to the `publishDiagnostics` that answers it.

Usage: python3 bench/lsp.py [KFL_BINARY] [STAGES] [RUNS]
       (defaults: target/dist/kfl, 1000 stages from bench/gen.py, 50 runs)

Prints wall times (what an editor waits) and the server's CPU time per change
(from /proc, steadier than wall time on a busy machine). The client speaks JSON-RPC over the server's stdio, like an editor. Each run
sends the whole file (full synchronisation) with the first param's default
made longer or shorter, so every change is a real re-check (the server's
parse cache must move every declaration after the edit) that ends with no
diagnostics. Python stdlib only.
Target: median < 50 ms at 1,000 stages.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def send(proc, message):
    body = json.dumps(message).encode()
    proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    proc.stdin.flush()


def receive(proc):
    length = None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("kfl lsp closed its output")
        line = line.strip()
        if not line:
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(proc.stdout.read(length))


def cpu_ms(pid):
    """User + system CPU time of a process so far, in ms (from /proc; Linux only)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of stat(5) (utime, stime), counted after the command name.
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def wait_for(proc, predicate):
    while True:
        message = receive(proc)
        if predicate(message):
            return message


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    kfl = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target", "dist", "kfl")
    stages = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    text = subprocess.run(
        [sys.executable, os.path.join(root, "bench", "gen.py"), str(stages)], check=True, capture_output=True, text=True
    ).stdout
    if "param epochs: int = 10" not in text:
        raise SystemExit("bench/gen.py output changed: no `param epochs: int = 10` to edit")
    folder = tempfile.mkdtemp(prefix="kfl-lsp-bench-")
    path = os.path.join(folder, "g%d.kfl" % stages)
    with open(path, "w") as f:
        f.write(text)
    uri = "file://" + path

    proc = subprocess.Popen([kfl, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    send(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}})
    wait_for(proc, lambda m: m.get("id") == 1)
    send(proc, {"jsonrpc": "2.0", "method": "initialized", "params": {}})

    def published(version):
        return lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"].get("version") == version

    start = time.perf_counter()
    send(proc, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "kfl", "version": 1, "text": text}}})
    message = wait_for(proc, published(1))
    open_ms = (time.perf_counter() - start) * 1000
    if message["params"]["diagnostics"]:
        raise SystemExit("the generated file has diagnostics: %s" % message["params"]["diagnostics"][:3])

    times = []
    cpu_before = cpu_ms(proc.pid)
    for run in range(runs):
        version = run + 2
        # 100, 1000, 10000, …: the text after the edit moves by a byte each time.
        edited = text.replace("param epochs: int = 10", "param epochs: int = %d" % (10 ** (2 + run % 3)))
        start = time.perf_counter()
        send(proc, {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": edited}]}})
        message = wait_for(proc, published(version))
        times.append((time.perf_counter() - start) * 1000)
        if message["params"]["diagnostics"]:
            raise SystemExit("unexpected diagnostics after a change")

    cpu_per_change = (cpu_ms(proc.pid) - cpu_before) / max(runs, 1)

    send(proc, {"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None})
    wait_for(proc, lambda m: m.get("id") == 2)
    send(proc, {"jsonrpc": "2.0", "method": "exit", "params": None})
    proc.wait(timeout=10)

    times.sort()
    if not times:
        print("stages=%d bytes=%d didOpen_ms=%.1f (no changes measured)" % (stages, len(text.encode()), open_ms))
        return
    print(
        "stages=%d bytes=%d runs=%d didOpen_ms=%.1f didChange_to_publishDiagnostics_ms: median=%.1f p90=%.1f min=%.1f max=%.1f server_cpu_ms_per_change=%.1f"
        % (stages, len(text.encode()), runs, open_ms, statistics.median(times), times[int(len(times) * 0.9) - 1], times[0], times[-1], cpu_per_change)
    )


if __name__ == "__main__":
    main()
