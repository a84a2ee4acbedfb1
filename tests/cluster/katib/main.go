// Command katib is the Katib v0.19.0 controller as github.com/kubeflow/katib
// cmd/katib-controller/v1beta1/main.go wires it (that package is `main` and cannot be imported):
// the Experiment, Suggestion and Trial controllers and the webhooks (Experiment validator and
// defaulter, the metrics-collector pod mutator), serving on loopback with the test bed's
// certificate. Katib's own certificate generator is not run: the test bed's CA signs the
// webhook certificate, as for the other components, so the KatibConfig's `certGenerator` is ignored.
// With --db-manager-address it also serves Katib's DB manager (dbmanager.go) and, with --katib-dir,
// runs the suggestion service of each Suggestion as a local process (services.go); a gRPC resolver
// points the cluster addresses the controllers dial at both.
package main

import (
	"flag"
	"os"

	"github.com/spf13/viper"
	"google.golang.org/grpc/resolver"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/manager/signals"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	configv1beta1 "github.com/kubeflow/katib/pkg/apis/config/v1beta1"
	apis "github.com/kubeflow/katib/pkg/apis/controller"
	commonv1beta1 "github.com/kubeflow/katib/pkg/common/v1beta1"
	controller "github.com/kubeflow/katib/pkg/controller.v1beta1"
	"github.com/kubeflow/katib/pkg/controller.v1beta1/consts"
	"github.com/kubeflow/katib/pkg/util/v1beta1/katibconfig"
	webhookv1beta1 "github.com/kubeflow/katib/pkg/webhook/v1beta1"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "suggest" {
		os.Exit(runSuggest(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "report" {
		os.Exit(runReport(os.Args[2:]))
	}
	log := ctrl.Log.WithName("katib")
	katibConfigFile := flag.String("katib-config", "", "the KatibConfig (config.kubeflow.org/v1beta1) file")
	host := flag.String("webhook-host", "127.0.0.1", "the address the webhook server binds to")
	port := flag.Int("webhook-port", 8443, "the port the webhook server binds to (overrides the config's webhookPort)")
	certDir := flag.String("cert-dir", "", "directory holding the webhook's tls.crt and tls.key")
	probeAddr := flag.String("health-probe-addr", "127.0.0.1:0", "the address the probe endpoint binds to (overrides the config's healthzAddr)")
	dbManagerAddr := flag.String("db-manager-address", "", "serve Katib's DB manager on this loopback address (database from DB_NAME and the KATIB_MYSQL_DB_* variables)")
	services := &suggestRun{file: "testbed"}
	flag.StringVar(&services.katibDir, "katib-dir", "", "the github.com/kubeflow/katib module directory: run each Suggestion's service locally")
	flag.StringVar(&services.serve, "serve", "", "serve.py")
	flag.StringVar(&services.venvs, "venvs", "", "directory of the Python services' virtual environments")
	flag.StringVar(&services.logs, "service-logs", os.TempDir(), "directory for the services' logs")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	must := func(err error, what string) {
		if err != nil {
			log.Error(err, what)
			os.Exit(1)
		}
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(apis.AddToScheme(scheme))
	utilruntime.Must(configv1beta1.AddToScheme(scheme))
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))

	initConfig, err := katibconfig.GetInitConfigData(scheme, *katibConfigFile)
	must(err, "unable to read the KatibConfig")
	// The settings upstream's main hands the controllers through viper.
	viper.Set(consts.ConfigExperimentSuggestionName, initConfig.ControllerConfig.ExperimentSuggestionName)
	viper.Set(consts.ConfigInjectSecurityContext, initConfig.ControllerConfig.InjectSecurityContext)
	viper.Set(consts.ConfigEnableGRPCProbeInSuggestion, initConfig.ControllerConfig.EnableGRPCProbeInSuggestion)
	trialGVKs, err := katibconfig.TrialResourcesToGVKs(initConfig.ControllerConfig.TrialResources)
	must(err, "unable to parse the config's trialResources")
	viper.Set(consts.ConfigTrialResources, trialGVKs)

	// The controllers dial cluster names (katib-db-manager.kubeflow:6789,
	// <suggestion>-<algorithm>.<namespace>:6789) with grpc.NewClient, whose default resolver is
	// "dns": there is no cluster DNS here, so ours answers from the endpoint table.
	resolver.Register(&loopback{})
	if *dbManagerAddr != "" {
		served, err := startDBManager(*dbManagerAddr)
		must(err, "unable to start the DB manager")
		endpoints.set(commonv1beta1.GetDBManagerAddr(), served)
		log.Info("DB manager serving", "address", served, "for", commonv1beta1.GetDBManagerAddr())
	}

	cfg, err := config.GetConfig()
	must(err, "unable to set up the client config")
	mgr, err := manager.New(cfg, manager.Options{
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: *probeAddr,
		Scheme:                 scheme,
	})
	must(err, "unable to set up the manager")
	hooks := webhook.NewServer(webhook.Options{Host: *host, Port: *port, CertDir: *certDir})
	must(controller.AddToManager(mgr), "unable to register the controllers")
	must(webhookv1beta1.AddToManager(mgr, hooks), "unable to register the webhooks")
	if services.katibDir != "" {
		must(services.readConfig(*katibConfigFile), "unable to read the katib-config's suggestion services")
		must(mgr.Add(&localServices{client: mgr.GetClient(), run: services}), "unable to add the local suggestion services")
	}
	must(mgr.AddReadyzCheck("readyz", hooks.StartedChecker()), "unable to set up the ready check")
	must(mgr.AddHealthzCheck("healthz", healthz.Ping), "unable to set up the health check")
	must(mgr.Start(signals.SetupSignalHandler()), "the manager stopped")
}
