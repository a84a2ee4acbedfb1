"""Every compiled pipeline.yaml through KFP's own Python SDK (kfp, kfp-kubernetes; versions pinned in
tests/kfp/requirements.txt): what `kfl build` emits must load and compile as KFP's code reads it.

For each file given:
1. `kfp.components.load_component_from_file` parses the PipelineSpec and the PlatformSpec with
   protobuf's strict `json_format.ParseDict` (an unknown field or a wrongly typed value fails) and
   builds the component's interface from the root DAG (kfp 2.17.3 kfp/dsl/structures.py,
   `ComponentSpec.from_ir_dicts`).
2. Each executor's Kubernetes platform config parses strictly as kfp-kubernetes'
   `KubernetesExecutorConfig` (kfp/kubernetes/kubernetes_executor_config_pb2.py), the message
   KFP's backend reads it as.
3. The pipeline is used as a task of a wrapper pipeline and `kfp.compiler.Compiler().compile`s it:
   the SDK's compile-time checks (component and task names, input types, artifact and parameter
   wiring, platform specs merged into the wrapper's), then the wrapper's YAML loads again.

Usage: python load_pipelines.py [-v] PIPELINE.yaml...   Prints one line per file, then `N passed, M failed`.
"""

import sys
import tempfile
import traceback

import yaml
from google.protobuf import json_format
from kfp import compiler, dsl
from kfp.components import load_component_from_file
from kfp.kubernetes import kubernetes_executor_config_pb2

# A value of each parameter type, for the wrapper to pass where the pipeline's input has no default.
SAMPLE = {
    "String": "x",
    "Integer": 1,
    "Float": 1.0,
    "Boolean": True,
    "List": [],
    "Dict": {},
}


def check_platform_spec(path: str) -> int:
    """Parses each executor's Kubernetes config strictly; returns how many there are."""
    documents = list(yaml.safe_load_all(open(path)))
    if len(documents) < 2 or not documents[1]:
        return 0
    executors = documents[1].get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})
    for name, config in executors.items():
        try:
            json_format.ParseDict(config, kubernetes_executor_config_pb2.KubernetesExecutorConfig())
        except json_format.ParseError as error:
            raise ValueError(f"platform spec of executor {name}: {error}") from None
    return len(executors)


def check_interface(component, root: dict) -> None:
    """The SDK takes a pipeline's interface from the component named like the pipeline, if there
    is one (`from_ir_dicts`): a pipeline named like one of its components gets that component's
    inputs and outputs instead of its own. The loaded interface must be the root DAG's."""
    for side, loaded in (("input", component.component_spec.inputs), ("output", component.component_spec.outputs)):
        definitions = root.get(f"{side}Definitions", {})
        declared = {*definitions.get("parameters", {}), *definitions.get("artifacts", {})}
        if set(loaded or {}) != declared:
            raise ValueError(
                f"the SDK reads the pipeline's {side}s as {sorted(loaded or {})}, its root declares {sorted(declared)}"
                " (a pipeline named like one of its components?)"
            )


def wrapper_arguments(component) -> dict:
    """A value for every parameter input: its default where it has one (so the SDK checks the
    default against the declared type), else a sample of the type."""
    arguments = {}
    for name, spec in (component.component_spec.inputs or {}).items():
        if isinstance(spec.type, str) and spec.type in SAMPLE:
            arguments[name] = spec.default if spec.default is not None else SAMPLE[spec.type]
        elif not spec.optional:
            raise ValueError(f"input {name} of type {spec.type} has no default: a wrapper cannot fill it")
    return arguments


def check(path: str) -> str:
    component = load_component_from_file(path)
    root = next(yaml.safe_load_all(open(path)))["root"]
    check_interface(component, root)
    configs = check_platform_spec(path)
    arguments = wrapper_arguments(component)

    @dsl.pipeline(name="kfl-sdk-check-wrapper")
    def wrapper():
        component(**arguments)

    with tempfile.NamedTemporaryFile(suffix=".yaml") as compiled:
        compiler.Compiler().compile(wrapper, package_path=compiled.name)
        load_component_from_file(compiled.name)
        again = list(yaml.safe_load_all(open(compiled.name)))
    if configs and (len(again) < 2 or not again[1].get("platforms", {}).get("kubernetes")):
        raise ValueError("the wrapper's compiled YAML lost the Kubernetes platform spec")
    tasks = len(root.get("dag", {}).get("tasks", {}))
    return f"{tasks} tasks, {configs} Kubernetes executor configs, {len(arguments)} inputs passed by the wrapper"


def main() -> int:
    verbose = "-v" in sys.argv[1:]
    passed = failed = 0
    for path in [arg for arg in sys.argv[1:] if arg != "-v"]:
        try:
            detail = check(path)
        except Exception as error:  # every failure of KFP's code is a finding, reported with its file
            failed += 1
            print(f"FAIL {path}: {type(error).__name__}: {error}")
            if verbose:
                traceback.print_exc()
            continue
        passed += 1
        print(f"ok   {path}: {detail}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
