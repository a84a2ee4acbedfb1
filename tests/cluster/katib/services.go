package main

// The suggestion services of the Suggestions on the test bed, run as local processes. Katib's
// Suggestion controller deploys each as a Deployment and a Service named
// <suggestion>-<algorithm> (github.com/kubeflow/katib v0.19.0 pkg/controller.v1beta1/suggestion/
// composer) and calls it at <suggestion>-<algorithm>.<namespace>:6789 once the Deployment is
// available (pkg/controller.v1beta1/suggestion/suggestion_controller.go): kwok only pretends to
// run that Deployment, so this runs the real service for it (the one the katib-config names for
// the algorithm, started as `katib suggest` starts it) and points that address at it. The
// service stops when its Suggestion is gone or has succeeded (Katib then deletes the Deployment).
// Early-stopping services are not run: medianstop dials the DB manager itself, from Python.

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	suggestionsv1beta1 "github.com/kubeflow/katib/pkg/apis/controller/suggestions/v1beta1"
	"github.com/kubeflow/katib/pkg/controller.v1beta1/util"
)

type localServices struct {
	client  client.Client
	run     *suggestRun
	running map[string]func() // by the endpoint the controller dials
}

// Start polls the Suggestions (from the manager's cache) until the manager stops.
func (l *localServices) Start(ctx context.Context) error {
	log := ctrl.Log.WithName("local-suggestion-services")
	l.running = map[string]func(){}
	defer func() {
		for endpoint, stop := range l.running {
			endpoints.remove(endpoint)
			stop()
		}
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var suggestions suggestionsv1beta1.SuggestionList
		if err := l.client.List(ctx, &suggestions); err != nil {
			log.Error(err, "cannot list Suggestions")
			continue
		}
		wanted := map[string]bool{}
		for i := range suggestions.Items {
			s := &suggestions.Items[i]
			if s.IsSucceeded() || s.IsFailed() || !s.DeletionTimestamp.IsZero() {
				continue
			}
			endpoint := util.GetAlgorithmEndpoint(s)
			wanted[endpoint] = true
			if _, ok := l.running[endpoint]; ok {
				continue
			}
			service, ok := l.run.services[s.Spec.Algorithm.AlgorithmName]
			if !ok {
				log.Info("the katib-config names no service for the algorithm", "suggestion", s.Name, "algorithm", s.Spec.Algorithm.AlgorithmName)
				continue
			}
			endpoints.expect(endpoint)
			stop, err := l.run.start(service, "suggestion", endpoint, s.Namespace+"."+s.Name)
			if err != nil {
				endpoints.remove(endpoint)
				log.Error(err, "cannot start the suggestion service", "suggestion", s.Name, "service", service)
				continue
			}
			log.Info("suggestion service running", "suggestion", s.Name, "service", service, "endpoint", endpoint)
			l.running[endpoint] = stop
		}
		for endpoint, stop := range l.running {
			if !wanted[endpoint] {
				endpoints.remove(endpoint)
				stop()
				delete(l.running, endpoint)
				log.Info("suggestion service stopped", "endpoint", endpoint)
			}
		}
	}
}
