package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// document is one object read from a manifest file.
type document struct {
	file   string
	object *unstructured.Unstructured
}

// kindRank orders kinds the way an apply must: what others live in or refer to first (the order
// kubectl and Helm use for the same reason), custom resources after their definitions.
var kindRank = map[string]int{
	"Namespace":                0,
	"CustomResourceDefinition": 1,
	"PriorityClass":            2,
	"StorageClass":             2,
	"ServiceAccount":           3,
	"Secret":                   4,
	"ConfigMap":                4,
	"PersistentVolume":         5,
	"PersistentVolumeClaim":    6,
	"ClusterRole":              7,
	"Role":                     7,
	"ClusterRoleBinding":       8,
	"RoleBinding":              8,
	"Service":                  9,
}

const customRank = 20

func rank(kind string) int {
	if r, ok := kindRank[kind]; ok {
		return r
	}
	if strings.HasSuffix(kind, "Webhook") || strings.HasSuffix(kind, "WebhookConfiguration") {
		return 10
	}
	return customRank
}

// runApply server-side applies every document of the files (field manager `kfl`, strict field
// validation), in dependency order, and prints one line per object: `accepted FILE KIND NS/NAME`
// or `refused FILE KIND NS/NAME: MESSAGE`. Exit status 1 when any object was refused.
func runApply(args []string) int {
	flags := flag.NewFlagSet("apply", flag.ContinueOnError)
	kubeconfig := flags.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	dryRun := flags.Bool("dry-run", false, "server-side dry run: nothing is stored (namespaces the objects live in are created for real)")
	namespace := flags.String("namespace", "default", "namespace of namespaced objects that name none")
	timeout := flags.Duration("timeout", 5*time.Minute, "give up after this long")
	var patches patchFlags
	flags.Var(&patches, "patch", "NAME=FILE: a JSON patch (RFC 6902, YAML or JSON) applied to the object named NAME before it is sent (repeatable)")
	webhookURL := flags.String("webhook-url", "", "point every webhook of webhook configurations at this https://host:port (plus the webhook's service path)")
	caFile := flags.String("ca", "", "the CA bundle file webhook configurations get with --webhook-url")
	namePrefix := flags.String("name-prefix", "", "prefix of every object's name, as kustomize's namePrefix")
	var namespaceLabels labelFlags
	flags.Var(&namespaceLabels, "namespace-label", "KEY=VALUE: a label the namespaces a dry run creates (or finds) get, as a Kubeflow profile's namespace has it (repeatable)")
	launchers := flags.Bool("launcher-manifests", false, "a file named pipeline.yaml contributes the objects its `kfl launch` tasks carry inline (--manifest-json), not itself")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	documents, err := readDocuments(flags.Args(), *launchers)
	if err != nil {
		fmt.Fprintf(os.Stderr, "apply: %v\n", err)
		return 2
	}
	if err := patches.apply(documents); err != nil {
		fmt.Fprintf(os.Stderr, "apply: %v\n", err)
		return 2
	}
	if *webhookURL != "" {
		if err := pointWebhooks(documents, *webhookURL, *caFile); err != nil {
			fmt.Fprintf(os.Stderr, "apply: %v\n", err)
			return 2
		}
	}
	if *namePrefix != "" {
		for _, doc := range documents {
			doc.object.SetName(*namePrefix + doc.object.GetName())
		}
	}
	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintf(os.Stderr, "apply: %v\n", err)
		return 2
	}
	config.QPS, config.Burst = 200, 400
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "apply: %v\n", err)
		return 2
	}
	disco, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "apply: %v\n", err)
		return 2
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	sort.SliceStable(documents, func(i, j int) bool {
		return rank(documents[i].object.GetKind()) < rank(documents[j].object.GetKind())
	})
	refused := 0
	if *dryRun {
		if err := ensureNamespaces(ctx, client, documents, *namespace, namespaceLabels.labels()); err != nil {
			fmt.Fprintf(os.Stderr, "apply: %v\n", err)
			return 1
		}
	}
	for _, doc := range documents {
		obj := doc.object
		where := obj.GetName()
		err := applyOne(ctx, client, mapper, obj, *namespace, *dryRun)
		if ns := obj.GetNamespace(); ns != "" {
			where = ns + "/" + where
		}
		if err != nil {
			refused++
			fmt.Printf("refused %s %s %s: %s\n", doc.file, obj.GetKind(), where, oneLine(err.Error()))
			continue
		}
		fmt.Printf("accepted %s %s %s\n", doc.file, obj.GetKind(), where)
	}
	if refused > 0 {
		return 1
	}
	return 0
}

func applyOne(ctx context.Context, client dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper, obj *unstructured.Unstructured, namespace string, dryRun bool) error {
	gvk := obj.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		// A kind defined by a CRD applied a moment ago: discovery may lag behind the CRD's
		// Established condition by a few seconds.
		mapper.Reset()
		deadline := time.Now().Add(30 * time.Second)
		for err != nil && meta.IsNoMatchError(err) && time.Now().Before(deadline) {
			time.Sleep(time.Second)
			mapper.Reset()
			mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
		if err != nil {
			return fmt.Errorf("kind unknown to the API server: %w", err)
		}
	}
	var resource dynamic.ResourceInterface = client.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(namespace)
		}
		resource = client.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	}
	body, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	options := metav1.PatchOptions{FieldManager: "kfl", FieldValidation: "Strict"}
	if dryRun {
		options.DryRun = []string{metav1.DryRunAll}
	}
	_, err = resource.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, options)
	if err != nil {
		return err
	}
	if gvk.Kind == "CustomResourceDefinition" && !dryRun {
		mapper.Reset()
		return waitEstablished(ctx, resource, obj.GetName())
	}
	return nil
}

// waitEstablished waits for a CRD's Established condition: until then its kind is not served,
// and a controller started next would fail its discovery.
func waitEstablished(ctx context.Context, crds dynamic.ResourceInterface, name string) error {
	for {
		crd, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, item := range conditions {
			condition, _ := item.(map[string]any)
			if condition["type"] == "Established" && condition["status"] == "True" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s not established: %w", name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ensureNamespaces creates (for real) the namespaces the objects live in, so that a dry run of a
// namespaced object meets the namespace it would meet after a real apply of the same files. With
// labels, each namespace, new or existing, gets them: Katib's Experiment validator refuses an
// Experiment in a namespace without `katib.kubeflow.org/metrics-collector-injection: enabled`
// (github.com/kubeflow/katib v0.19.0 pkg/webhook/v1beta1/experiment/validation_webhook.go), the
// label Kubeflow's profile controller gives every profile namespace.
func ensureNamespaces(ctx context.Context, client dynamic.Interface, documents []document, fallback string, labels map[string]any) error {
	namespaces := map[string]bool{fallback: true}
	for _, doc := range documents {
		if doc.object.GetKind() == "Namespace" {
			namespaces[doc.object.GetName()] = true
		} else if ns := doc.object.GetNamespace(); ns != "" {
			namespaces[ns] = true
		}
	}
	resource := client.Resource(namespaceResource)
	for name := range namespaces {
		metadata := map[string]any{"name": name}
		if len(labels) > 0 {
			metadata["labels"] = labels
		}
		ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}}
		_, err := resource.Create(ctx, ns, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) && len(labels) > 0 {
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
			_, err = resource.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		} else if apierrors.IsAlreadyExists(err) {
			err = nil
		}
		if err != nil {
			return fmt.Errorf("cannot create namespace %s: %w", name, err)
		}
	}
	return nil
}

// labelFlags are the repeatable --namespace-label KEY=VALUE flags of apply.
type labelFlags []string

func (l *labelFlags) String() string { return strings.Join(*l, ",") }

func (l *labelFlags) Set(value string) error {
	if !strings.Contains(value, "=") {
		return fmt.Errorf("--namespace-label wants KEY=VALUE, got %q", value)
	}
	*l = append(*l, value)
	return nil
}

func (l *labelFlags) labels() map[string]any {
	labels := map[string]any{}
	for _, flag := range *l {
		key, value, _ := strings.Cut(flag, "=")
		labels[key] = value
	}
	return labels
}

func readDocuments(files []string, launchers bool) ([]document, error) {
	if len(files) == 0 {
		return nil, errors.New("no manifest files given")
	}
	var documents []document
	for _, file := range files {
		if launchers && filepath.Base(file) == "pipeline.yaml" {
			inline, err := launcherManifests(file)
			if err != nil {
				return nil, err
			}
			documents = append(documents, inline...)
			continue
		}
		var data []byte
		var err error
		if file == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(file)
		}
		if err != nil {
			return nil, err
		}
		decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var object map[string]any
			if err := decoder.Decode(&object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if len(object) == 0 {
				continue
			}
			documents = append(documents, document{file: file, object: &unstructured.Unstructured{Object: object}})
		}
	}
	return documents, nil
}

func oneLine(message string) string {
	return strings.Join(strings.Fields(message), " ")
}

var namespaceResource = schemaGVR("", "v1", "namespaces")
