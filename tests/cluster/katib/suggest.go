package main

// `katib suggest`: Katib's real suggestion services on the Experiments kfl emits, driven the way
// Katib's controllers drive them, without a cluster. For each Experiment it starts a fresh service
// (as Katib runs one suggestion Deployment per Experiment), calls ValidateAlgorithmSettings (and
// ValidateEarlyStoppingSettings) through Katib's own suggestion client, then asks for trials with
// SyncAssignments round after round, completing each round's trials with an observation, until
// maxTrialCount trials have run or the objective's goal is met.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	configv1beta1 "github.com/kubeflow/katib/pkg/apis/config/v1beta1"
	commonv1beta1 "github.com/kubeflow/katib/pkg/apis/controller/common/v1beta1"
	experimentsv1beta1 "github.com/kubeflow/katib/pkg/apis/controller/experiments/v1beta1"
	suggestionsv1beta1 "github.com/kubeflow/katib/pkg/apis/controller/suggestions/v1beta1"
	trialsv1beta1 "github.com/kubeflow/katib/pkg/apis/controller/trials/v1beta1"
	health "github.com/kubeflow/katib/pkg/apis/manager/health"
	managerv1beta1 "github.com/kubeflow/katib/pkg/apis/manager/v1beta1"
	"github.com/kubeflow/katib/pkg/controller.v1beta1/suggestion/suggestionclient"
	"github.com/kubeflow/katib/pkg/controller.v1beta1/util"
	goptuna "github.com/kubeflow/katib/pkg/suggestion/v1beta1/goptuna"
)

// pythonServices names the servicer class each Python service's entry point serves
// (github.com/kubeflow/katib v0.19.0 cmd/suggestion/<service>/v1beta1/main.py and
// cmd/earlystopping/medianstop/v1beta1/main.py). The service serving an algorithm is not listed
// here: it is the one the release's katib-config names by its image.
var pythonServices = map[string]string{
	"hyperopt":   "pkg.suggestion.v1beta1.hyperopt.service.HyperoptService",
	"optuna":     "pkg.suggestion.v1beta1.optuna.service.OptunaService",
	"skopt":      "pkg.suggestion.v1beta1.skopt.service.SkoptService",
	"hyperband":  "pkg.suggestion.v1beta1.hyperband.service.HyperbandService",
	"pbt":        "pkg.suggestion.v1beta1.pbt.service.PbtService",
	"medianstop": "pkg.earlystopping.v1beta1.medianstop.service.MedianStopService",
}

// The katib-config's images are ghcr.io/kubeflow/katib/suggestion-<service>:<tag> and
// earlystopping-<service>:<tag> (manifests/v1beta1/installs/katib-standalone/katib-config.yaml).
var serviceImage = regexp.MustCompile(`/(?:suggestion|earlystopping)-([a-z0-9]+):`)

type suggestRun struct {
	katibDir string // the github.com/kubeflow/katib module's directory (the Python sources)
	serve    string // serve.py
	venvs    string // one virtual environment per Python service: VENVS/<service>/bin/python
	services map[string]string
	stopping map[string]string
	logs     string
	// The input file being run, whose base name prefixes its services' logs.
	file string
}

func runSuggest(args []string) int {
	flags := flag.NewFlagSet("suggest", flag.ExitOnError)
	katibConfig := flags.String("katib-config", "", "the release's KatibConfig (which service serves each algorithm)")
	run := &suggestRun{}
	flags.StringVar(&run.katibDir, "katib-dir", "", "the github.com/kubeflow/katib module directory")
	flags.StringVar(&run.serve, "serve", "", "serve.py")
	flags.StringVar(&run.venvs, "venvs", "", "directory of the Python services' virtual environments")
	flags.StringVar(&run.logs, "logs", os.TempDir(), "directory for the services' logs")
	_ = flags.Parse(args)
	if *katibConfig == "" || run.katibDir == "" || run.serve == "" || run.venvs == "" || flags.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: katib suggest --katib-config FILE --katib-dir DIR --serve serve.py --venvs DIR [--logs DIR] EXPERIMENT.yaml...")
		return 2
	}
	// The services run in the module directory: the paths given must not depend on the caller's.
	for _, path := range []*string{&run.katibDir, &run.serve, &run.venvs, &run.logs} {
		absolute, err := filepath.Abs(*path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "suggest: %v\n", err)
			return 1
		}
		*path = absolute
	}
	if err := run.readConfig(*katibConfig); err != nil {
		fmt.Fprintf(os.Stderr, "suggest: %v\n", err)
		return 1
	}
	resolver.Register(&loopback{})
	status := 0
	for _, file := range flags.Args() {
		run.file = file
		experiments, err := readExperiments(file)
		if err != nil {
			fmt.Printf("error %s: %v\n", file, err)
			status = 1
			continue
		}
		for _, e := range experiments {
			verdict, detail, err := run.experiment(e)
			if err != nil {
				fmt.Printf("error %s %s: %v\n", file, e.Name, err)
				status = 1
				continue
			}
			fmt.Printf("%s %s %s\n", verdict, file, detail)
		}
	}
	return status
}

func (r *suggestRun) readConfig(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var config configv1beta1.KatibConfig
	if err := yaml.Unmarshal(data, &config); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	r.services, r.stopping = map[string]string{}, map[string]string{}
	for _, s := range config.RuntimeConfig.SuggestionConfigs {
		if m := serviceImage.FindStringSubmatch(s.Image); m != nil {
			r.services[s.AlgorithmName] = m[1]
		}
	}
	for _, s := range config.RuntimeConfig.EarlyStoppingConfigs {
		if m := serviceImage.FindStringSubmatch(s.Image); m != nil {
			r.stopping[s.AlgorithmName] = m[1]
		}
	}
	return nil
}

func readExperiments(file string) ([]*experimentsv1beta1.Experiment, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var experiments []*experimentsv1beta1.Experiment
	for {
		var e experimentsv1beta1.Experiment
		if err := decoder.Decode(&e); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if e.Kind == "Experiment" {
			experiments = append(experiments, &e)
		}
	}
	if len(experiments) == 0 {
		return nil, errors.New("no Experiment")
	}
	return experiments, nil
}

// experiment runs one Experiment against its services: its verdict is `accepted` or `refused` (by
// a service, with its message in the detail).
func (r *suggestRun) experiment(e *experimentsv1beta1.Experiment) (verdict, detail string, err error) {
	if e.Namespace == "" {
		e.Namespace = "default"
	}
	// What Katib's mutating webhook does before the controllers see it
	// (pkg/webhook/v1beta1/experiment/mutate_webhook.go calls SetDefault).
	e.SetDefault()
	algorithm := e.Spec.Algorithm.AlgorithmName
	service, ok := r.services[algorithm]
	if !ok {
		return "", "", fmt.Errorf("the katib-config has no suggestion service for %q", algorithm)
	}
	label := fmt.Sprintf("%s: %s (%s service)", e.Name, algorithm, service)
	// The Suggestion the Experiment controller creates (pkg/controller.v1beta1/experiment/suggestion/suggestion.go).
	suggestion := &suggestionsv1beta1.Suggestion{
		ObjectMeta: metav1.ObjectMeta{Name: e.Name, Namespace: e.Namespace, Labels: e.Labels},
		Spec: suggestionsv1beta1.SuggestionSpec{
			Algorithm:    e.Spec.Algorithm.DeepCopy(),
			ResumePolicy: e.Spec.ResumePolicy,
		},
	}
	stopSuggestion, err := r.start(service, "suggestion", util.GetAlgorithmEndpoint(suggestion), e.Name)
	if err != nil {
		return "", "", err
	}
	defer stopSuggestion()
	client := suggestionclient.New()
	// The Suggestion controller validates before its first sync and fails the Suggestion with this
	// message (pkg/controller.v1beta1/suggestion/suggestion_controller.go).
	if err := client.ValidateAlgorithmSettings(suggestion, e); err != nil {
		return "refused", fmt.Sprintf("%s: Validation failed: %v", label, err), nil
	}
	if e.Spec.EarlyStopping != nil {
		name := e.Spec.EarlyStopping.AlgorithmName
		stopping, ok := r.stopping[name]
		if !ok {
			return "", "", fmt.Errorf("the katib-config has no early-stopping service for %q", name)
		}
		stopStopping, err := r.start(stopping, "earlystopping", util.GetEarlyStoppingEndpoint(suggestion), e.Name)
		if err != nil {
			return "", "", err
		}
		defer stopStopping()
		suggestion.Spec.EarlyStopping = e.Spec.EarlyStopping.DeepCopy()
		err = client.ValidateEarlyStoppingSettings(suggestion, e)
		// GetEarlyStoppingRules reads the trials' metric logs from Katib's DB manager, which is not
		// run: the rounds below ask for suggestions only.
		suggestion.Spec.EarlyStopping = nil
		if err != nil {
			return "refused", fmt.Sprintf("%s: Validation failed: %v", label, err), nil
		}
		label += fmt.Sprintf(", %s (%s service) validated", name, stopping)
	}

	trials, rounds, first, err := playRounds(client, suggestion, e)
	if err != nil {
		return "refused", fmt.Sprintf("%s: after %d trials: %v", label, len(trials), err), nil
	}
	return "accepted", fmt.Sprintf("%s: %d trials in %d rounds; first %s", label, len(trials), rounds, first), nil
}

// playRounds plays the Experiment controller's loop (ReconcileTrials in
// pkg/controller.v1beta1/experiment/experiment_controller.go): up to parallelTrialCount trials at a
// time, never more than maxTrialCount in all; here every trial of a round completes before the next.
func playRounds(client suggestionclient.SuggestionClient, s *suggestionsv1beta1.Suggestion, e *experimentsv1beta1.Experiment) ([]trialsv1beta1.Trial, int, string, error) {
	parallel := *e.Spec.ParallelTrialCount
	var trials []trialsv1beta1.Trial
	first := ""
	for round := 1; ; round++ {
		completed := int32(len(trials))
		add := parallel
		if e.Spec.MaxTrialCount != nil && *e.Spec.MaxTrialCount-completed < add {
			add = *e.Spec.MaxTrialCount - completed
		}
		if add <= 0 {
			return trials, round - 1, first, nil
		}
		s.Spec.Requests = completed + add
		if err := client.SyncAssignments(s, e, trials); err != nil {
			return trials, round, first, err
		}
		for _, assignment := range s.Status.Suggestions[completed:] {
			if err := inSpace(e, assignment.ParameterAssignments); err != nil {
				return trials, round, first, fmt.Errorf("trial %s: %w", assignment.Name, err)
			}
			if first == "" {
				first = describe(assignment.ParameterAssignments)
			}
			trial, value := complete(e, assignment)
			trials = append(trials, trial)
			if goalMet(e, value) {
				return trials, round, first, nil
			}
		}
	}
}

// inSpace checks one assignment against the Experiment's parameters: each assigned once, inside
// its feasible space.
func inSpace(e *experimentsv1beta1.Experiment, assignments []commonv1beta1.ParameterAssignment) error {
	values := map[string]string{}
	for _, a := range assignments {
		if _, dup := values[a.Name]; dup {
			return fmt.Errorf("parameter %s assigned twice", a.Name)
		}
		values[a.Name] = a.Value
	}
	for _, p := range e.Spec.Parameters {
		value, ok := values[p.Name]
		if !ok {
			return fmt.Errorf("parameter %s not assigned", p.Name)
		}
		delete(values, p.Name)
		space := p.FeasibleSpace
		switch p.ParameterType {
		case experimentsv1beta1.ParameterTypeCategorical, experimentsv1beta1.ParameterTypeDiscrete:
			if !contains(space.List, value) {
				// A discrete list of numbers may come back formatted otherwise (2 for 2.0).
				if !numericIn(space.List, value) {
					return fmt.Errorf("%s = %q is not one of %v", p.Name, value, space.List)
				}
			}
		case experimentsv1beta1.ParameterTypeInt, experimentsv1beta1.ParameterTypeDouble:
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return fmt.Errorf("%s = %q is not a number", p.Name, value)
			}
			if p.ParameterType == experimentsv1beta1.ParameterTypeInt && v != float64(int64(v)) {
				return fmt.Errorf("%s = %q is not an integer", p.Name, value)
			}
			lo, _ := strconv.ParseFloat(space.Min, 64)
			hi, _ := strconv.ParseFloat(space.Max, 64)
			// The grid steps through a range by float arithmetic (0.2 + 0.2 + 0.2 comes back as
			// 0.6000000000000001, pkg/suggestion/v1beta1/internal/search_space.py): rounding is
			// not a value outside the space.
			slack := 1e-9 * math.Max(1, hi-lo)
			if v < lo-slack || v > hi+slack {
				return fmt.Errorf("%s = %s is outside [%s, %s]", p.Name, value, space.Min, space.Max)
			}
		}
	}
	for name := range values {
		return fmt.Errorf("%s is not a parameter of the Experiment", name)
	}
	return nil
}

func contains(list []string, value string) bool {
	for _, item := range list {
		if item == value {
			return true
		}
	}
	return false
}

func numericIn(list []string, value string) bool {
	v, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return false
	}
	for _, item := range list {
		if w, err := strconv.ParseFloat(item, 64); err == nil && w == v {
			return true
		}
	}
	return false
}

func describe(assignments []commonv1beta1.ParameterAssignment) string {
	parts := make([]string, len(assignments))
	for i, a := range assignments {
		parts[i] = a.Name + "=" + a.Value
	}
	return strings.Join(parts, ", ")
}

// complete turns an assignment into a Succeeded Trial as the Experiment and Trial controllers would
// (getTrialInstance in experiment_controller_util.go), with an observation of every metric: a value
// in [0, 1) that depends on the assignment only, so that runs are repeatable.
func complete(e *experimentsv1beta1.Experiment, a suggestionsv1beta1.TrialAssignment) (trialsv1beta1.Trial, float64) {
	trial := trialsv1beta1.Trial{}
	trial.Name = a.Name
	trial.Namespace = e.Namespace
	trial.Labels = util.TrialLabels(e)
	for k, v := range a.Labels {
		trial.Labels[k] = v
	}
	trial.Spec.Objective = e.Spec.Objective
	trial.Spec.ParameterAssignments = a.ParameterAssignments
	hash := fnv.New64a()
	hash.Write([]byte(describe(a.ParameterAssignments)))
	value := float64(hash.Sum64()%1_000_000) / 1_000_000
	formatted := strconv.FormatFloat(value, 'f', 6, 64)
	names := append([]string{e.Spec.Objective.ObjectiveMetricName}, e.Spec.Objective.AdditionalMetricNames...)
	observation := &commonv1beta1.Observation{}
	for _, name := range names {
		observation.Metrics = append(observation.Metrics, commonv1beta1.Metric{Name: name, Min: formatted, Max: formatted, Latest: formatted})
	}
	now := metav1.Now()
	trial.Status.StartTime = &now
	trial.Status.CompletionTime = &now
	trial.Status.Observation = observation
	trial.MarkTrialStatusSucceeded(corev1.ConditionTrue, "TrialSucceeded", "simulated")
	return trial, value
}

// goalMet: the Experiment controller ends an Experiment whose objective reached its goal
// (pkg/controller.v1beta1/experiment/util/status_util.go).
func goalMet(e *experimentsv1beta1.Experiment, value float64) bool {
	if e.Spec.Objective.Goal == nil {
		return false
	}
	if e.Spec.Objective.Type == commonv1beta1.ObjectiveTypeMinimize {
		return value <= *e.Spec.Objective.Goal
	}
	return value >= *e.Spec.Objective.Goal
}

// start runs a fresh instance of SERVICE (Katib runs one Deployment per Suggestion) and points
// ENDPOINT, the address Katib's client dials (<suggestion>-<algorithm>.<namespace>:PORT,
// pkg/controller.v1beta1/util/suggestion.go), at it. goptuna is Go and runs in this process, as cmd/suggestion/goptuna/v1beta1
// serves it; the others are Python, run by serve.py in the service's virtual environment.
func (r *suggestRun) start(service, kind, endpoint, experiment string) (func(), error) {
	if service == "goptuna" {
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		server := grpc.NewServer()
		managerv1beta1.RegisterSuggestionServer(server, goptuna.NewSuggestionService())
		health.RegisterHealthServer(server, serving{})
		go func() { _ = server.Serve(listener) }()
		endpoints.set(endpoint, listener.Addr().String())
		return server.Stop, nil
	}
	class, ok := pythonServices[service]
	if !ok {
		return nil, fmt.Errorf("no entry point known for the %s service", service)
	}
	python := filepath.Join(r.venvs, service, "bin", "python")
	dot := strings.LastIndex(class, ".")
	command := exec.Command(python, r.serve, kind, class[:dot], class[dot+1:])
	command.Dir = r.katibDir
	// As the release's Dockerfiles set it (cmd/suggestion/*/v1beta1/Dockerfile).
	command.Env = append(os.Environ(), "PYTHONPATH="+strings.Join([]string{
		r.katibDir,
		filepath.Join(r.katibDir, "pkg/apis/manager/v1beta1/python"),
		filepath.Join(r.katibDir, "pkg/apis/manager/health/python"),
	}, ":"))
	logFile, err := os.Create(r.logPath(experiment, service))
	if err != nil {
		return nil, err
	}
	command.Stderr = logFile
	stdin, err := command.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := command.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := command.Start(); err != nil {
		return nil, fmt.Errorf("%s service: %w", service, err)
	}
	stop := func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = command.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = command.Process.Kill()
			<-done
		}
		_ = logFile.Close()
	}
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- strings.TrimSpace(line)
	}()
	select {
	case line := <-ready:
		if _, err := strconv.Atoi(line); err != nil {
			stop()
			return nil, fmt.Errorf("%s service did not start (log: %s)", service, logFile.Name())
		}
		endpoints.set(endpoint, "127.0.0.1:"+line)
	case <-time.After(3 * time.Minute):
		stop()
		return nil, fmt.Errorf("%s service not listening after 3 minutes (log: %s)", service, logFile.Name())
	}
	return stop, nil
}

// logPath: where SERVICE logs while it serves EXPERIMENT of the current file (the file's base name,
// the Experiment's name and the service's, so that scripts can read it).
func (r *suggestRun) logPath(experiment, service string) string {
	base := strings.TrimSuffix(filepath.Base(r.file), filepath.Ext(r.file))
	return filepath.Join(r.logs, base+"."+experiment+"."+service+".log")
}

type serving struct{}

func (serving) Check(context.Context, *health.HealthCheckRequest) (*health.HealthCheckResponse, error) {
	return &health.HealthCheckResponse{Status: health.HealthCheckResponse_SERVING}, nil
}

// endpoints maps the addresses Katib's clients dial (HOST:PORT, cluster DNS names) to the
// loopback address of the service running for each now.
var endpoints = newEndpointTable()

type endpointTable struct {
	mu        sync.Mutex
	changed   *sync.Cond
	addresses map[string]string
	// Endpoints whose service is starting: a call waits for it, as a call to a Katib suggestion
	// Deployment does, which is ready only once its gRPC readiness probe answers (the Suggestion
	// controller's composer gives it one); kwok marks the pod ready at once.
	starting map[string]bool
}

func newEndpointTable() *endpointTable {
	t := &endpointTable{addresses: map[string]string{}, starting: map[string]bool{}}
	t.changed = sync.NewCond(&t.mu)
	return t
}

// expect marks ENDPOINT's service as starting, until set or remove.
func (t *endpointTable) expect(endpoint string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.starting[endpoint] = true
}

func (t *endpointTable) set(endpoint, address string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addresses[endpoint] = address
	delete(t.starting, endpoint)
	t.changed.Broadcast()
}

func (t *endpointTable) remove(endpoint string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.addresses, endpoint)
	delete(t.starting, endpoint)
	t.changed.Broadcast()
}

// unknownGrace is how long a call to an endpoint nobody has announced waits for it: the test bed's
// services start when their Suggestion appears, which the Suggestion controller may act on first.
const unknownGrace = 10 * time.Second

// get answers ENDPOINT's address, waiting while its service is starting (or, for unknownGrace,
// until some service announces it).
func (t *endpointTable) get(endpoint string) (string, bool) {
	deadline := time.Now().Add(unknownGrace)
	timer := time.AfterFunc(unknownGrace, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.changed.Broadcast()
	})
	defer timer.Stop()
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		address, ok := t.addresses[endpoint]
		if ok || (!t.starting[endpoint] && !time.Now().Before(deadline)) {
			return address, ok
		}
		t.changed.Wait()
	}
}

// loopback takes the place of gRPC's "dns" resolver, the one grpc.NewClient uses for the
// service names Katib's client dials: there is no cluster DNS here, and every service runs on
// a loopback port of its own.
type loopback struct{}

func (*loopback) Scheme() string { return "dns" }

func (*loopback) Build(target resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	address, ok := endpoints.get(target.Endpoint())
	if !ok {
		return nil, fmt.Errorf("no service runs for %s", target.Endpoint())
	}
	if err := cc.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: address}}}); err != nil {
		return nil, err
	}
	return nopResolver{}, nil
}

type nopResolver struct{}

func (nopResolver) ResolveNow(resolver.ResolveNowOptions) {}
func (nopResolver) Close()                                {}
