package main

// `katib report`: what Katib's metrics collector does when a trial's training ends, for the
// test bed, whose pods run nothing: one ReportObservationLog call to the DB manager
// (github.com/kubeflow/katib v0.19.0 pkg/apis/manager/v1beta1/api.proto; the file and StdOut
// collectors call it in cmd/metricscollector/v1beta1/file-metricscollector/main.go) with the
// given metric values, time-stamped now in RFC 3339 as the collectors write them.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	managerv1beta1 "github.com/kubeflow/katib/pkg/apis/manager/v1beta1"
)

func runReport(args []string) int {
	flags := flag.NewFlagSet("report", flag.ExitOnError)
	address := flags.String("db-manager", "", "the DB manager's address (HOST:PORT)")
	trial := flags.String("trial", "", "the Trial's name")
	_ = flags.Parse(args)
	if *address == "" || *trial == "" || flags.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: katib report --db-manager HOST:PORT --trial NAME METRIC=VALUE...")
		return 2
	}
	now := time.Now().UTC().Format(time.RFC3339)
	var logs []*managerv1beta1.MetricLog
	for _, pair := range flags.Args() {
		name, value, ok := strings.Cut(pair, "=")
		if !ok || name == "" || value == "" {
			fmt.Fprintf(os.Stderr, "report: %q is not METRIC=VALUE\n", pair)
			return 2
		}
		logs = append(logs, &managerv1beta1.MetricLog{TimeStamp: now, Metric: &managerv1beta1.Metric{Name: name, Value: value}})
	}
	conn, err := grpc.NewClient(*address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "report: %v\n", err)
		return 1
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = managerv1beta1.NewDBManagerClient(conn).ReportObservationLog(ctx, &managerv1beta1.ReportObservationLogRequest{
		TrialName:      *trial,
		ObservationLog: &managerv1beta1.ObservationLog{MetricLogs: logs},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "report: ReportObservationLog for trial %s: %v\n", *trial, err)
		return 1
	}
	return 0
}
