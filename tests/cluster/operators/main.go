// Command operators runs the upstream Kubeflow controllers the test bed needs, one per process: the
// first argument names the component, the rest are its flags. Trainer v2.3.0, JobSet v0.12.0 and
// kwok v0.8.0 share k8s.io/* v0.36 and controller-runtime v0.24, so one module and one build of
// those libraries serves all three. JobSet's and Trainer's own `main` packages cannot be imported;
// jobset.go and trainer.go repeat their wiring (cited there) around the packages that do the work.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

const usage = `usage: operators COMPONENT [FLAGS]
  kwok FLAGS       sigs.k8s.io/kwok v0.8.0 cmd/kwok: simulated nodes and pod lifecycles
  jobset FLAGS     sigs.k8s.io/jobset v0.12.0 controller manager and webhooks
  trainer FLAGS    github.com/kubeflow/trainer/v2 v2.3.0 controller manager and webhooks
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	component, args := os.Args[1], os.Args[2:]
	// The upstream entry points parse os.Args and flag.CommandLine themselves.
	os.Args = append([]string{component}, args...)
	switch component {
	case "kwok":
		os.Exit(runKwok())
	case "jobset":
		os.Exit(runJobSet())
	case "trainer":
		os.Exit(runTrainer())
	default:
		fmt.Fprintf(os.Stderr, "unknown component %q\n%s", component, usage)
		os.Exit(2)
	}
}

// serve runs a controller-runtime manager until the process is signalled; it reports ready once
// its webhook server listens, which is what start waits for before installing the webhook
// configurations that send requests to it.
func serve(ctx context.Context, mgr ctrl.Manager, log logr.Logger) int {
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "unable to set up the health check")
		return 1
	}
	if err := mgr.AddReadyzCheck("readyz", mgr.GetWebhookServer().StartedChecker()); err != nil {
		log.Error(err, "unable to set up the ready check")
		return 1
	}
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "manager stopped")
		return 1
	}
	return 0
}

// parseFlags parses the component's flags, with zap's logging flags beside them, and sets the
// controller-runtime logger, as the upstream entry points do.
func parseFlags() {
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
}

// setFeatureGates sets the config file's feature gates, then the `key=value,…` overrides.
func setFeatureGates(gates map[string]bool, overrides string) error {
	if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(gates); err != nil {
		return err
	}
	if overrides == "" {
		return nil
	}
	return utilfeature.DefaultMutableFeatureGate.Set(overrides)
}

// newScheme registers the kinds of each API package in a fresh scheme.
func newScheme(adders ...func(*runtime.Scheme) error) *runtime.Scheme {
	scheme := runtime.NewScheme()
	for _, add := range adders {
		utilruntime.Must(add(scheme))
	}
	return scheme
}
