#!/usr/bin/env python3
"""Extracts the structural part of the upstream CRD schemas that `k8s {}` patches are checked against.

Run from this folder with ../../../shared beside the repository:

    python3 extract.py ../../../shared/schemas

It writes one minified JSON schema per target kind (descriptions, CEL rules and
other keywords the patch checker does not read are dropped). The inputs are the
pinned upstream files listed in shared/schemas/SOURCES.md.
"""
import json
import sys
from pathlib import Path

import yaml

KEEP = {"type", "properties", "items", "additionalProperties", "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-int-or-string", "enum", "anyOf", "allOf", "oneOf"}


def strip(node):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key not in KEEP:
                continue
            if key == "properties":
                out[key] = {name: strip(child) for name, child in value.items()}
            elif key == "enum":
                out[key] = value
            else:
                out[key] = strip(value)
        return out
    if isinstance(node, list):
        return [strip(item) for item in node]
    return node


def crd_schema(path, version):
    crd = yaml.safe_load(Path(path).read_text())
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return strip(v["schema"]["openAPIV3Schema"])
    raise SystemExit(f"{path}: no version {version}")


def swagger_schema(path, root):
    spec = json.loads(Path(path).read_text())
    definitions = spec.get("definitions") or spec.get("components", {}).get("schemas", {})

    def resolve(node, depth):
        if depth > 60:
            return {"x-kubernetes-preserve-unknown-fields": True}
        if isinstance(node, list):
            return [resolve(item, depth + 1) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = definitions.get(node["$ref"].split("/")[-1])
            if target is None:
                return {"x-kubernetes-preserve-unknown-fields": True}
            return resolve(target, depth + 1)
        out = {}
        for key, value in node.items():
            if key not in KEEP:
                continue
            if key == "properties":
                out[key] = {name: resolve(child, depth + 1) for name, child in value.items()}
            elif key == "enum":
                out[key] = value
            else:
                out[key] = resolve(value, depth + 1)
        if not out:
            # `runtime.RawExtension` and friends: anything goes below here.
            out["x-kubernetes-preserve-unknown-fields"] = True
        return out

    return resolve(definitions[root], 0)


def main():
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else "../../../shared/schemas")
    out = Path(__file__).parent
    targets = {
        "trainjob.json": crd_schema(shared / "crds/trainer/trainer.kubeflow.org_trainjobs.yaml", "v1alpha1"),
        "notebook.json": crd_schema(shared / "crds/notebook/kubeflow.org_notebooks.yaml", "v1"),
        "inferenceservice.json": crd_schema(shared / "crds/kserve/serving.kserve.io_inferenceservices.yaml", "v1beta1"),
        "experiment.json": swagger_schema(shared / "openapi/katib-swagger.json", "v1beta1.Experiment"),
    }
    for name, schema in targets.items():
        (out / name).write_text(json.dumps(schema, separators=(",", ":"), sort_keys=True) + "\n")
        print(name, len((out / name).read_text()))


if __name__ == "__main__":
    main()
