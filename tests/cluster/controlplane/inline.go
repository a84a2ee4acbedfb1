package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// launcherManifests returns the objects a compiled KFP pipeline's `kfl launch` tasks carry inline,
// as the value after each `--manifest-json` in an executor's container args, in executor order.
// They reach the cluster only when the task runs, so the test bed checks them beside manifests/.
func launcherManifests(file string) ([]document, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	// The pipeline spec is the first document; a platform spec may follow.
	var spec struct {
		DeploymentSpec struct {
			Executors map[string]struct {
				Container struct {
					Args []string `json:"args"`
				} `json:"container"`
			} `json:"executors"`
		} `json:"deploymentSpec"`
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	if err := decoder.Decode(&spec); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	names := make([]string, 0, len(spec.DeploymentSpec.Executors))
	for name := range spec.DeploymentSpec.Executors {
		names = append(names, name)
	}
	sort.Strings(names)
	var documents []document
	for _, name := range names {
		args := spec.DeploymentSpec.Executors[name].Container.Args
		for i := 0; i+1 < len(args); i++ {
			if args[i] != "--manifest-json" {
				continue
			}
			var object map[string]any
			if err := json.Unmarshal([]byte(args[i+1]), &object); err != nil {
				return nil, fmt.Errorf("%s: executor %s: --manifest-json: %w", file, name, err)
			}
			documents = append(documents, document{file: file + "#" + name, object: &unstructured.Unstructured{Object: object}})
		}
	}
	return documents, nil
}

// runInline prints each inline launcher manifest of the pipeline files as one line: the
// executor, the kind and the compact JSON, tab-separated, for scripts to pick from.
func runInline(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: controlplane inline PIPELINE.yaml...")
		return 2
	}
	for _, file := range args {
		documents, err := launcherManifests(file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "inline: %v\n", err)
			return 1
		}
		for _, doc := range documents {
			body, err := json.Marshal(doc.object.Object)
			if err != nil {
				fmt.Fprintf(os.Stderr, "inline: %v\n", err)
				return 1
			}
			fmt.Printf("%s\t%s\t%s\n", doc.file, doc.object.GetKind(), body)
		}
	}
	return 0
}
