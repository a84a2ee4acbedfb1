// Command kserve is the KServe v0.20.0 controller manager as github.com/kserve/kserve
// cmd/manager/main.go wires it (that package is `main` and cannot be imported): the
// InferenceService, TrainedModel and InferenceGraph controllers and the webhooks, serving on
// loopback with the test bed's certificate. The deployment mode comes from the
// inferenceservice-config ConfigMap the test bed installs (Standard: no Knative).
package main

import (
	"context"
	"flag"
	"net/http"
	"os"

	istio_networking "istio.io/api/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/manager/signals"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kserve/kserve/pkg/apis/serving/v1alpha1"
	"github.com/kserve/kserve/pkg/apis/serving/v1beta1"
	graphcontroller "github.com/kserve/kserve/pkg/controller/v1alpha1/inferencegraph"
	trainedmodelcontroller "github.com/kserve/kserve/pkg/controller/v1alpha1/trainedmodel"
	"github.com/kserve/kserve/pkg/controller/v1alpha1/trainedmodel/reconcilers/modelconfig"
	v1beta1controller "github.com/kserve/kserve/pkg/controller/v1beta1/inferenceservice"
	kservescheme "github.com/kserve/kserve/pkg/scheme"
	kserveutils "github.com/kserve/kserve/pkg/utils"
	"github.com/kserve/kserve/pkg/webhook/admission/pod"
	"github.com/kserve/kserve/pkg/webhook/admission/servingruntime"
)

func main() {
	log := ctrl.Log.WithName("kserve")
	host := flag.String("webhook-host", "127.0.0.1", "the address the webhook server binds to")
	port := flag.Int("webhook-port", 9443, "the port the webhook server binds to")
	certDir := flag.String("cert-dir", "", "directory holding the webhook's tls.crt and tls.key")
	probeAddr := flag.String("health-probe-addr", "127.0.0.1:0", "the address the probe endpoint binds to")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	// As upstream's init: tolerate deprecated fields in Istio objects.
	istio_networking.VirtualServiceUnmarshaler.AllowUnknownFields = true
	istio_networking.GatewayUnmarshaler.AllowUnknownFields = true

	must := func(err error, what string) {
		if err != nil {
			log.Error(err, what)
			os.Exit(1)
		}
	}
	cfg, err := config.GetConfig()
	must(err, "unable to set up the client config")
	clientSet, err := kubernetes.NewForConfig(cfg)
	must(err, "unable to create the clientset")
	cacheOpts, err := v1beta1controller.NewCacheOptions()
	must(err, "unable to create the cache options")
	mgr, err := manager.New(cfg, manager.Options{
		Metrics:                metricsserver.Options{BindAddress: "0"},
		WebhookServer:          webhook.NewServer(webhook.Options{Host: *host, Port: *port, CertDir: *certDir}),
		HealthProbeBindAddress: *probeAddr,
		Cache:                  cacheOpts,
	})
	must(err, "unable to set up the manager")
	must(kservescheme.AddAll(mgr.GetScheme()), "unable to register the API schemes")

	isvcConfigMap, err := v1beta1.GetInferenceServiceConfigMap(context.Background(), clientSet)
	must(err, "unable to read the inferenceservice-config ConfigMap")
	deployConfig, err := v1beta1.NewDeployConfig(isvcConfigMap)
	must(err, "unable to read the deploy config")
	ingressConfig, err := v1beta1.NewIngressConfig(isvcConfigMap)
	must(err, "unable to read the ingress config")
	_, err = v1beta1.NewMultiNodeConfig(isvcConfigMap)
	must(err, "unable to read the multi-node config")

	events := record.NewBroadcaster()
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: clientSet.CoreV1().Events("")})
	recorder := func(component string) record.EventRecorder {
		return events.NewRecorder(mgr.GetScheme(), corev1.EventSource{Component: component})
	}
	must((&v1beta1controller.InferenceServiceReconciler{
		Client: mgr.GetClient(), Clientset: clientSet, Scheme: mgr.GetScheme(),
		Log:      ctrl.Log.WithName("v1beta1Controllers").WithName("InferenceService"),
		Recorder: recorder("v1beta1Controllers"),
	}).SetupWithManager(mgr, deployConfig, ingressConfig), "unable to create the InferenceService controller")
	must((&trainedmodelcontroller.TrainedModelReconciler{
		Client: mgr.GetClient(), Scheme: mgr.GetScheme(),
		Log:                   ctrl.Log.WithName("v1beta1Controllers").WithName("TrainedModel"),
		Recorder:              recorder("v1beta1Controllers"),
		ModelConfigReconciler: modelconfig.NewModelConfigReconciler(mgr.GetClient(), clientSet, mgr.GetScheme()),
	}).SetupWithManager(mgr), "unable to create the TrainedModel controller")
	must((&graphcontroller.InferenceGraphReconciler{
		Client: mgr.GetClient(), Clientset: clientSet, Scheme: mgr.GetScheme(),
		Log:      ctrl.Log.WithName("v1alpha1Controllers").WithName("InferenceGraph"),
		Recorder: recorder("InferenceGraphController"),
	}).SetupWithManager(mgr, deployConfig), "unable to create the InferenceGraph controller")

	hooks := mgr.GetWebhookServer()
	hooks.Register("/mutate-pods", &webhook.Admission{
		Handler: &pod.Mutator{Client: mgr.GetClient(), Clientset: clientSet, Decoder: admission.NewDecoder(mgr.GetScheme())},
	})
	csrAvailable, err := kserveutils.IsCrdAvailable(mgr.GetConfig(), v1alpha1.SchemeGroupVersion.String(), "ClusterServingRuntime")
	must(err, "unable to check for the ClusterServingRuntime CRD")
	if csrAvailable {
		hooks.Register("/validate-serving-kserve-io-v1alpha1-clusterservingruntime", &webhook.Admission{
			Handler: &servingruntime.ClusterServingRuntimeValidator{Client: mgr.GetClient(), Decoder: admission.NewDecoder(mgr.GetScheme())},
		})
	}
	hooks.Register("/validate-serving-kserve-io-v1alpha1-servingruntime", &webhook.Admission{
		Handler: &servingruntime.ServingRuntimeValidator{Client: mgr.GetClient(), Decoder: admission.NewDecoder(mgr.GetScheme())},
	})
	must(ctrl.NewWebhookManagedBy(mgr).For(&v1alpha1.TrainedModel{}).
		WithValidator(&v1alpha1.TrainedModelValidator{}).Complete(), "unable to create the TrainedModel webhook")
	must(ctrl.NewWebhookManagedBy(mgr).For(&v1alpha1.InferenceGraph{}).
		WithValidator(&v1alpha1.InferenceGraphValidator{}).Complete(), "unable to create the InferenceGraph webhook")
	must(ctrl.NewWebhookManagedBy(mgr).For(&v1beta1.InferenceService{}).
		WithDefaulter(&v1beta1.InferenceServiceDefaulter{}).
		WithValidator(&v1beta1.InferenceServiceValidator{}).Complete(), "unable to create the InferenceService webhook")
	started := func(req *http.Request) error { return mgr.GetWebhookServer().StartedChecker()(req) }
	must(mgr.AddHealthzCheck("healthz", started), "unable to set up the health check")
	must(mgr.AddReadyzCheck("readyz", started), "unable to set up the ready check")
	must(mgr.Start(signals.SetupSignalHandler()), "the manager stopped")
}
