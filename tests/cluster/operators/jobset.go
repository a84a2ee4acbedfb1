package main

import (
	"crypto/tls"
	"flag"

	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"

	configapi "sigs.k8s.io/jobset/api/config/v1alpha1"
	jobset "sigs.k8s.io/jobset/api/jobset/v1alpha2"
	"sigs.k8s.io/jobset/pkg/config"
	"sigs.k8s.io/jobset/pkg/controllers"
	"sigs.k8s.io/jobset/pkg/metrics"
	"sigs.k8s.io/jobset/pkg/webhooks"
)

// runJobSet is the JobSet controller manager as sigs.k8s.io/jobset v0.12.0 main.go wires it, less
// what a test bed has no use for: leader election, secure metrics and internal cert management
// (the config file turns it off; the webhook serves the test bed's own certificate).
func runJobSet() int {
	log := ctrl.Log.WithName("jobset")
	var configFile string
	flag.StringVar(&configFile, "config", "", "JobSet Configuration (config.jobset.x-k8s.io/v1alpha1) file")
	parseFlags()

	scheme := newScheme(clientgoscheme.AddToScheme, jobset.AddToScheme, configapi.AddToScheme)
	metrics.Register()

	options, cfg, err := config.Load(scheme, configFile)
	if err == nil {
		err = setFeatureGates(cfg.FeatureGates, "")
	}
	if err != nil {
		log.Error(err, "unable to load the configuration")
		return 1
	}
	kubeConfig := ctrl.GetConfigOrDie()
	kubeConfig.QPS = *cfg.ClientConnection.QPS
	kubeConfig.Burst = int(*cfg.ClientConnection.Burst)
	options.HealthProbeBindAddress = cfg.Health.HealthProbeBindAddress
	options.LeaderElection = false
	options.Metrics.BindAddress = cfg.Metrics.BindAddress
	// The same HTTP/2 opt-out upstream applies (the HTTP/2 Rapid Reset advisories).
	options.Metrics.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	mgr, err := ctrl.NewManager(kubeConfig, options)
	if err != nil {
		log.Error(err, "unable to create the manager")
		return 1
	}
	ctx := ctrl.SetupSignalHandler()
	if err := controllers.SetupJobSetIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		log.Error(err, "unable to set up the JobSet indexes")
		return 1
	}
	if err := controllers.SetupPodIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		log.Error(err, "unable to set up the pod indexes")
		return 1
	}
	jobSets := controllers.NewJobSetReconciler(mgr.GetClient(), mgr.GetScheme(), mgr.GetEventRecorder("jobset"))
	if err := jobSets.SetupWithManager(mgr); err != nil {
		log.Error(err, "unable to create the JobSet controller")
		return 1
	}
	pods := controllers.NewPodReconciler(mgr.GetClient(), mgr.GetScheme(), mgr.GetEventRecorder("pod"))
	if err := pods.SetupWithManager(mgr); err != nil {
		log.Error(err, "unable to create the pod controller")
		return 1
	}
	if err := webhooks.Setup(mgr); err != nil {
		log.Error(err, "unable to set up the webhooks")
		return 1
	}
	return serve(ctx, mgr, log)
}
