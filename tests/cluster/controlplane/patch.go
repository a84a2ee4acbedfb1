package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"sigs.k8s.io/yaml"
)

// patchFlags are the --patch NAME=FILE flags of apply: the kustomize JSON patches an upstream
// release ships beside its manifests, applied by object name, so the objects are the ones the
// release installs without kustomize.
type patchFlags []string

func (p *patchFlags) String() string { return strings.Join(*p, ",") }

func (p *patchFlags) Set(value string) error {
	if !strings.Contains(value, "=") {
		return fmt.Errorf("--patch wants NAME=FILE, got %q", value)
	}
	*p = append(*p, value)
	return nil
}

func (p *patchFlags) apply(documents []document) error {
	for _, flag := range *p {
		name, file, _ := strings.Cut(flag, "=")
		raw, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		operations, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		patch, err := jsonpatch.DecodePatch(operations)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		matched := false
		for _, doc := range documents {
			if doc.object.GetName() != name {
				continue
			}
			matched = true
			original, err := doc.object.MarshalJSON()
			if err != nil {
				return err
			}
			patched, err := patch.Apply(original)
			if err != nil {
				return fmt.Errorf("%s on %s: %w", file, name, err)
			}
			if err := doc.object.UnmarshalJSON(patched); err != nil {
				return err
			}
		}
		if !matched {
			return fmt.Errorf("%s: no object named %s", file, name)
		}
	}
	return nil
}

// pointWebhooks turns every in-cluster service reference of webhook configurations into a URL on
// the test bed's loopback port, keeping the service's path, and trusts the test bed's CA.
func pointWebhooks(documents []document, base, caFile string) error {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("--ca: %w", err)
	}
	for _, doc := range documents {
		kind := doc.object.GetKind()
		if kind != "ValidatingWebhookConfiguration" && kind != "MutatingWebhookConfiguration" {
			continue
		}
		webhooks, _ := doc.object.Object["webhooks"].([]any)
		for _, item := range webhooks {
			webhook, _ := item.(map[string]any)
			clientConfig, _ := webhook["clientConfig"].(map[string]any)
			if clientConfig == nil {
				return fmt.Errorf("%s %s: a webhook without clientConfig", kind, doc.object.GetName())
			}
			path := ""
			if service, ok := clientConfig["service"].(map[string]any); ok {
				path, _ = service["path"].(string)
			}
			webhook["clientConfig"] = map[string]any{
				"url":      strings.TrimSuffix(base, "/") + path,
				"caBundle": base64.StdEncoding.EncodeToString(ca),
			}
		}
	}
	return nil
}
