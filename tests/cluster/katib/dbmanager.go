package main

// Katib's DB manager inside the controller process, as github.com/kubeflow/katib v0.19.0
// cmd/db-manager/v1beta1/main.go wires it (that package is `main` and cannot be imported): the
// DBManager and Health gRPC services over Katib's own MySQL driver (pkg/db/v1beta1), which reads
// DB_NAME, DB_USER, DB_PASSWORD and KATIB_MYSQL_DB_{HOST,PORT,DATABASE} from the environment. It
// listens on a loopback port; the controllers reach it under the address they dial
// (pkg/common/v1beta1/katib_manager_util.go GetDBManagerAddr, katib-db-manager.kubeflow:6789)
// through the endpoint table (endpoints.go).

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"

	health "github.com/kubeflow/katib/pkg/apis/manager/health"
	managerv1beta1 "github.com/kubeflow/katib/pkg/apis/manager/v1beta1"
	dbv1beta1 "github.com/kubeflow/katib/pkg/db/v1beta1"
	dbcommon "github.com/kubeflow/katib/pkg/db/v1beta1/common"
)

type dbManager struct {
	db dbcommon.KatibDBInterface
}

func (s *dbManager) ReportObservationLog(_ context.Context, in *managerv1beta1.ReportObservationLogRequest) (*managerv1beta1.ReportObservationLogReply, error) {
	return &managerv1beta1.ReportObservationLogReply{}, s.db.RegisterObservationLog(in.TrialName, in.ObservationLog)
}

func (s *dbManager) GetObservationLog(_ context.Context, in *managerv1beta1.GetObservationLogRequest) (*managerv1beta1.GetObservationLogReply, error) {
	log, err := s.db.GetObservationLog(in.TrialName, in.MetricName, in.StartTime, in.EndTime)
	return &managerv1beta1.GetObservationLogReply{ObservationLog: log}, err
}

func (s *dbManager) DeleteObservationLog(_ context.Context, in *managerv1beta1.DeleteObservationLogRequest) (*managerv1beta1.DeleteObservationLogReply, error) {
	return &managerv1beta1.DeleteObservationLogReply{}, s.db.DeleteObservationLog(in.TrialName)
}

// Check answers as upstream's: serving while `SELECT 1` succeeds.
func (s *dbManager) Check(_ context.Context, in *health.HealthCheckRequest) (*health.HealthCheckResponse, error) {
	if in != nil && in.Service != "" && in.Service != "grpc.health.v1.Health" {
		return &health.HealthCheckResponse{Status: health.HealthCheckResponse_UNKNOWN},
			fmt.Errorf("grpc.health.v1.Health can only be accepted if you specify service name")
	}
	if err := s.db.SelectOne(); err != nil {
		return &health.HealthCheckResponse{Status: health.HealthCheckResponse_NOT_SERVING},
			fmt.Errorf("failed to execute `SELECT 1` probe: %v", err)
	}
	return &health.HealthCheckResponse{Status: health.HealthCheckResponse_SERVING}, nil
}

// startDBManager connects to the database (upstream's default connect timeout, 60 s), creates
// Katib's tables (DBInit) and serves on address; it returns the address it listens on.
func startDBManager(address string) (string, error) {
	name := os.Getenv(dbcommon.DBNameEnvName)
	if name == "" {
		return "", fmt.Errorf("%s is not set", dbcommon.DBNameEnvName)
	}
	db, err := dbv1beta1.NewKatibDBInterface(name, 60*time.Second)
	if err != nil {
		return "", fmt.Errorf("cannot open the database: %w", err)
	}
	db.DBInit()
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return "", err
	}
	// Upstream's message size limits.
	size := 1<<31 - 1
	server := grpc.NewServer(grpc.MaxRecvMsgSize(size), grpc.MaxSendMsgSize(size))
	manager := &dbManager{db: db}
	managerv1beta1.RegisterDBManagerServer(server, manager)
	health.RegisterHealthServer(server, manager)
	go func() { _ = server.Serve(listener) }()
	return listener.Addr().String(), nil
}
