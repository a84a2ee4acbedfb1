package main

import (
	"flag"

	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlpkg "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	jobsetv1alpha2 "sigs.k8s.io/jobset/api/jobset/v1alpha2"
	schedulerpluginsv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"
	volcanov1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	configapi "github.com/kubeflow/trainer/v2/pkg/apis/config/v1alpha1"
	trainer "github.com/kubeflow/trainer/v2/pkg/apis/trainer/v1alpha1"
	"github.com/kubeflow/trainer/v2/pkg/config"
	"github.com/kubeflow/trainer/v2/pkg/controller"
	"github.com/kubeflow/trainer/v2/pkg/features"
	runtimecore "github.com/kubeflow/trainer/v2/pkg/runtime/core"
	"github.com/kubeflow/trainer/v2/pkg/statusserver"
	"github.com/kubeflow/trainer/v2/pkg/webhooks"
)

// runTrainer is the Trainer controller manager as github.com/kubeflow/trainer/v2 v2.3.0
// cmd/trainer-controller-manager/main.go wires it, with cert management off in the config file
// (the webhook serves the test bed's own certificate), so controllers and webhooks start at once.
func runTrainer() int {
	log := ctrl.Log.WithName("trainer")
	var configFile, featureGates, certDir string
	flag.StringVar(&configFile, "config", "", "Trainer Configuration (config.trainer.kubeflow.org/v1alpha1) file")
	flag.StringVar(&featureGates, "feature-gates", "", "key=value pairs of feature gates")
	// Trainer's Configuration has no certificate directory (pkg/config/config.go leaves
	// controller-runtime's shared default under /tmp); the test bed names its own.
	flag.StringVar(&certDir, "cert-dir", "", "directory holding the webhook's tls.crt and tls.key")
	parseFlags()

	// The kinds upstream's main registers: its own, JobSet's, and the gang schedulers' it supports.
	scheme := newScheme(clientgoscheme.AddToScheme, configapi.AddToScheme, trainer.AddToScheme,
		jobsetv1alpha2.AddToScheme, schedulerpluginsv1alpha1.AddToScheme, volcanov1beta1.AddToScheme)

	// Gates on the command line override the config file's, as upstream.
	options, cfg, err := config.Load(scheme, configFile)
	if err == nil {
		err = setFeatureGates(cfg.FeatureGates, featureGates)
	}
	if err != nil {
		log.Error(err, "unable to load the configuration")
		return 1
	}
	restCfg := ctrl.GetConfigOrDie()
	config.ApplyClientConnection(restCfg, &cfg)
	options.LeaderElection = false
	if cfg.Webhook.Port != nil && cfg.Webhook.Host != nil {
		options.WebhookServer = webhook.NewServer(webhook.Options{
			Host: *cfg.Webhook.Host, Port: int(*cfg.Webhook.Port), CertDir: certDir,
		})
	}
	mgr, err := ctrl.NewManager(restCfg, options)
	if err != nil {
		log.Error(err, "unable to create the manager")
		return 1
	}
	ctx := ctrl.SetupSignalHandler()
	runtimes, err := runtimecore.New(ctx, mgr.GetClient(), mgr.GetFieldIndexer(), &cfg)
	if err != nil {
		log.Error(err, "unable to initialize the runtimes")
		return 1
	}
	if name, err := controller.SetupControllers(mgr, runtimes, ctrlpkg.Options{}); err != nil {
		log.Error(err, "unable to create a controller", "controller", name)
		return 1
	}
	if name, err := webhooks.Setup(mgr, runtimes); err != nil {
		log.Error(err, "unable to create a webhook", "webhook", name)
		return 1
	}
	if features.Enabled(features.TrainJobStatus) {
		if err := statusserver.SetupServer(mgr, cfg.StatusServer, cfg.TLS); err != nil {
			log.Error(err, "unable to create the runtime status server")
			return 1
		}
	}
	return serve(ctx, mgr, log)
}
