"""KServe Python SDK compatibility of `kfl serve` (issue 19): run with the `kserve` package from PyPI.

Usage: python kserve-client.py http://127.0.0.1:PORT [MODEL]

Serve examples/iris first (`kfl run examples/iris/iris.kfl --serve-for 5m`, or `kfl serve`), then
run this with a Python that has `pip install kserve` (tested with kserve 0.21.0). It checks, through
the SDK's own REST client, V1 and V2: liveness, readiness, model readiness, metadata, and inference
with JSON tensors, binary input tensors (the SDK's default for numpy data) and binary outputs
(request-wide `binary_data_output` and per-output `binary_data`). Exits non-zero on the first failure.
.ci/run runs it against `kfl serve examples/iris/iris.kfl`, with kserve 0.21.0 in a venv under target/.
"""

import asyncio
import sys

import httpx
import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput

ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]], dtype=np.float32)
EXPECTED = ["setosa", "virginica", "versicolor"]


def check(condition, what):
    if not condition:
        sys.exit(f"FAIL: {what}")
    print(f"ok: {what}")


def request(model, binary_input, parameters=None, outputs=None):
    tensor = InferInput(name="input-0", shape=list(ROWS.shape), datatype="FP32")
    tensor.set_data_from_numpy(ROWS, binary_data=binary_input)
    return InferRequest(model_name=model, infer_inputs=[tensor], parameters=parameters, request_outputs=outputs)


def species(response):
    output = response.outputs[0]
    return [s.decode() if isinstance(s, bytes) else s for s in output.as_numpy().tolist()]


async def main(base, model):
    v2 = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
    v1 = InferenceRESTClient(RESTConfig(protocol="v1", timeout=30))
    check(await v2.is_server_live(base) is True, "V2 is_server_live")
    check(await v2.is_server_ready(base) is True, "V2 is_server_ready")
    check(await v2.is_model_ready(base, model) is True, "V2 is_model_ready")
    check(await v1.is_server_live(base) is True, "V1 is_server_live (GET /)")
    check(await v1.is_model_ready(base, model) is True, "V1 is_model_ready")
    check(await v2.is_model_ready(base, "no-such-model") is False, "V2 is_model_ready of an unknown model is False")

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        server = (await http.get("/v2")).json()
        check("binary_tensor_data" in server.get("extensions", []), f"GET /v2 server metadata {server}")
        metadata = (await http.get(f"/v2/models/{model}")).json()
        check(metadata.get("name") == model and metadata.get("inputs"), f"GET /v2/models/{model} metadata")
        listed = (await http.get("/v2/models")).json()
        check(listed == {"models": [model]}, f"GET /v2/models {listed}")
        listed = (await http.get("/v1/models")).json()
        check(listed == {"models": [model]}, f"GET /v1/models {listed}")

    answer = await v2.infer(base, request(model, binary_input=False), model_name=model)
    check(species(answer) == EXPECTED, f"V2 infer, JSON in, JSON out: {species(answer)}")

    headers = {}
    answer = await v2.infer(base, request(model, binary_input=True), model_name=model, response_headers=headers)
    check(species(answer) == EXPECTED, f"V2 infer, binary in (SDK default), JSON out: {species(answer)}")
    check("inference-header-content-length" not in headers, "JSON answer when no binary output was asked")

    headers = {}
    answer = await v2.infer(
        base, request(model, True, parameters={"binary_data_output": True}), model_name=model, response_headers=headers
    )
    check(species(answer) == EXPECTED, f"V2 infer, binary in, binary_data_output: {species(answer)}")
    check("inference-header-content-length" in headers, "the answer came in the binary extension")

    headers = {}
    outputs = [RequestedOutput(name="species", parameters={"binary_data": True})]
    answer = await v2.infer(base, request(model, False, outputs=outputs), model_name=model, response_headers=headers)
    check(species(answer) == EXPECTED, f"V2 infer, JSON in, per-output binary_data: {species(answer)}")
    check("inference-header-content-length" in headers, "the per-output binary answer came in the binary extension")

    broken = request(model, True)
    body, json_length = broken.to_rest()
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        reply = await http.post(
            f"/v2/models/{model}/infer",
            content=body[:-3],
            headers={"inference-header-content-length": str(json_length), "content-type": "application/octet-stream"},
        )
        check(reply.status_code == 400 and "binary" in reply.json()["error"], f"truncated binary body: 400 {reply.text}")

    answer = await v1.infer(base, {"instances": ROWS.tolist()}, model_name=model)
    check(answer.get("predictions") == EXPECTED, f"V1 infer: {answer}")

    try:
        await v2.infer(base, request("no-such-model", True), model_name="no-such-model")
        check(False, "an unknown model is refused")
    except httpx.HTTPStatusError as error:
        check(error.response.status_code == 404, f"an unknown model is refused with 404: {error}")
    await v1.close()
    await v2.close()
    print("all KServe SDK checks passed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1].rstrip("/"), sys.argv[2] if len(sys.argv) > 2 else "iris"))
