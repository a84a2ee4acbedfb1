// Command controlplane is the test bed's Kubernetes control plane in one binary: the first argument
// names the component (etcd, kube-apiserver, kube-controller-manager, kube-scheduler), the rest are
// that component's own flags. One binary links the shared packages once; each component still runs
// as its own process, as in kwokctl's "binary" runtime. It also carries the test bed's own tools
// (pki, apply) so they reuse the client libraries compiled here.
package main

import (
	"fmt"
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

const usage = `usage: controlplane COMPONENT [FLAGS]
  etcd DATA_DIR CLIENT_PORT PEER_PORT   embedded etcd on 127.0.0.1
  kube-apiserver FLAGS                  k8s.io/kubernetes/cmd/kube-apiserver
  kube-controller-manager FLAGS         k8s.io/kubernetes/cmd/kube-controller-manager
  kube-scheduler FLAGS                  k8s.io/kubernetes/cmd/kube-scheduler
  pki DIR                               a CA and the certificates and keys the test bed uses
  apply FLAGS FILE...                   server-side apply of manifests in dependency order
  inline PIPELINE.yaml...               the objects a compiled pipeline's kfl launch tasks carry
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	component, args := os.Args[1], os.Args[2:]
	switch component {
	case "etcd":
		os.Exit(runEtcd(args))
	case "kube-apiserver":
		command := apiserver.NewAPIServerCommand()
		command.SetArgs(args)
		os.Exit(cli.Run(command))
	case "kube-controller-manager":
		command := controllermanager.NewControllerManagerCommand()
		command.SetArgs(args)
		os.Exit(cli.Run(command))
	case "kube-scheduler":
		command := scheduler.NewSchedulerCommand()
		command.SetArgs(args)
		os.Exit(cli.Run(command))
	case "pki":
		os.Exit(runPKI(args))
	case "inline":
		os.Exit(runInline(args))
	case "apply":
		os.Exit(runApply(args))
	default:
		fmt.Fprintf(os.Stderr, "unknown component %q\n%s", component, usage)
		os.Exit(2)
	}
}
