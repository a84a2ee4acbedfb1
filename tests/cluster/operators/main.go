// Command operators runs the upstream Kubeflow controllers the test bed needs, one per process: the
// first argument names the component, the rest are its flags. Trainer v2.3.0, JobSet v0.12.0 and
// kwok v0.8.0 share k8s.io/* v0.36 and controller-runtime v0.24, so one module and one build of
// those libraries serves all three. JobSet's and Trainer's own `main` packages cannot be imported;
// jobset.go and trainer.go repeat their wiring (cited there) around the packages that do the work.
package main

import (
	"fmt"
	"os"
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
