package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jobplane/jobplane/pkg/bench"
	clusterv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/cluster/v1"
	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"github.com/jobplane/jobplane/pkg/sdk"
	"github.com/jobplane/jobplane/pkg/tlsconfig"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

type cmdEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command func(ctx context.Context, env *cmdEnv, args []string) error

var commands map[string]command

func init() {
	commands = map[string]command{
		"create": cmdCreate, "get": cmdGet, "list": cmdList, "ops": cmdOps, "watch": cmdWatch,
		"cancel": cmdCancel, "delete": cmdDelete, "aggregate": cmdAggregate, "stats": cmdStats,
		"metrics": cmdMetrics, "bench": cmdBench,
	}
}

// common are the flags of every command.
type common struct {
	fs                  *flag.FlagSet
	addr, token         string
	tlsCA, tlsCert, key string
	tlsCfg              *tls.Config // built from the three by tls()
	output              string
	timeout             time.Duration
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func newCommon(env *cmdEnv, name, usage string, timeout time.Duration) *common {
	c := &common{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.fs.SetOutput(env.stderr)
	c.fs.StringVar(&c.addr, "addr", envOr("JOBPLANE_ADDR", "127.0.0.1:50051"), "gRPC address of a client service (JOBPLANE_ADDR)")
	c.fs.StringVar(&c.token, "token", envOr("JOBPLANE_TOKEN", "local-dev-token-123"), "bearer token (JOBPLANE_TOKEN)")
	c.fs.StringVar(&c.tlsCA, "tls-ca", os.Getenv("JOBPLANE_TLS_CA"), "CA file: use TLS (JOBPLANE_TLS_CA)")
	c.fs.StringVar(&c.tlsCert, "tls-cert", os.Getenv("JOBPLANE_TLS_CERT"), "client certificate for mutual TLS (JOBPLANE_TLS_CERT)")
	c.fs.StringVar(&c.key, "tls-key", os.Getenv("JOBPLANE_TLS_KEY"), "client key for mutual TLS (JOBPLANE_TLS_KEY)")
	c.fs.StringVar(&c.output, "o", "table", "output: table or json")
	c.fs.DurationVar(&c.timeout, "timeout", timeout, "give up after")
	c.fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: jobctl %s\n\nFlags:\n", usage)
		c.fs.PrintDefaults()
	}
	return c
}

// parse parses flags anywhere among the arguments and returns the
// positional ones, checking their count.
func (c *common) parse(args []string, minArgs, maxArgs int) ([]string, error) {
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = c.fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if c.output != "table" && c.output != "json" {
		return nil, usagef("-o %q: want table or json", c.output)
	}
	if len(pos) < minArgs || (maxArgs >= 0 && len(pos) > maxArgs) {
		c.fs.Usage()
		return nil, usagef("%s: wrong number of arguments", c.fs.Name())
	}
	return pos, nil
}

// tls returns the TLS configuration of the command's --tls-* flags, read
// once; nil without any.
func (c *common) tls() (*tls.Config, error) {
	if c.tlsCA == "" && c.tlsCert == "" && c.key == "" {
		return nil, nil
	}
	if c.tlsCfg == nil {
		cfg, err := tlsconfig.Client(c.tlsCA, c.tlsCert, c.key)
		if err != nil {
			return nil, err
		}
		c.tlsCfg = cfg
	}
	return c.tlsCfg, nil
}

func (c *common) dial() (*sdk.Client, error) {
	opts := []sdk.Option{sdk.WithToken(c.token)}
	cfg, err := c.tls()
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		opts = append(opts, sdk.WithTLS(cfg))
	}
	return sdk.Dial(c.addr, opts...)
}

// prepare parses, dials and bounds ctx.
func (c *common) prepare(ctx context.Context, args []string, minArgs, maxArgs int) ([]string, *sdk.Client, context.Context, context.CancelFunc, error) {
	pos, err := c.parse(args, minArgs, maxArgs)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	cl, err := c.dial()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	return pos, cl, ctx, func() { cancel(); _ = cl.Close() }, nil
}

var jsonOpts = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

func printJSON(w io.Writer, m proto.Message) error {
	b, err := jsonOpts.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// describe renders an error with its status details.
func describe(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", st.Code(), st.Message())
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fmt.Fprintf(&b, "\n  %s: %s", v.GetField(), v.GetDescription())
			}
		}
	}
	return b.String()
}

func short(s string) string { // JOB_STATE_SUCCEEDED -> SUCCEEDED
	for _, p := range []string{"JOB_STATE_", "OPERATION_STATE_", "NODE_ROLE_"} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

func tsStr(t interface{ AsTime() time.Time }, ok bool) string {
	if !ok {
		return "-"
	}
	return t.AsTime().Local().Format(time.RFC3339)
}

func writeJobs(w io.Writer, jobs []*jobsv1.Job) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tTOTAL\tPENDING\tSUCCEEDED\tFAILED\tCANCELLED\tCREATED")
	for _, j := range jobs {
		c := j.GetOperationCounts()
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", j.GetId(), short(j.GetState().String()), j.GetTotalOperations(),
			c.GetPending(), c.GetSucceeded(), c.GetFailed(), c.GetCancelled(), tsStr(j.GetCreateTime(), j.GetCreateTime() != nil))
	}
	_ = tw.Flush()
}

func outJob(c *common, env *cmdEnv, j *jobsv1.Job) error {
	if c.output == "json" {
		return printJSON(env.stdout, j)
	}
	writeJobs(env.stdout, []*jobsv1.Job{j})
	return nil
}

// ---- jobs ----

func cmdCreate(ctx context.Context, env *cmdEnv, args []string) error {
	c := newCommon(env, "create", "create [FILE|-] [--op EXPR]... [--request-id ID] [--partition-key KEY] [--watch]", time.Minute)
	var ops multi
	c.fs.Var(&ops, "op", "an expression (repeatable); instead of a file")
	typ := c.fs.String("type", "expr", "operation type of every operation")
	requestID := c.fs.String("request-id", "", "idempotency key")
	partitionKey := c.fs.String("partition-key", "", "run every operation in submission order on one partition")
	watch := c.fs.Bool("watch", false, "then watch the job until it is terminal")
	pos, err := c.parse(args, 0, 1)
	if err != nil {
		return err
	}
	exprs := []string(ops)
	if len(pos) == 1 || len(exprs) == 0 {
		if len(exprs) > 0 {
			return usagef("give a file or --op, not both")
		}
		var r io.Reader = env.stdin
		if len(pos) == 1 && pos[0] != "-" {
			f, err := os.Open(pos[0]) // #nosec G304 -- the user names the file
			if err != nil {
				return usagef("%v", err)
			}
			defer f.Close()
			r = f
		}
		if exprs, err = readLines(r); err != nil {
			return err
		}
	}
	if len(exprs) == 0 {
		return usagef("no operations: give a file, - for stdin, or --op")
	}
	cl, err := c.dial()
	if err != nil {
		return err
	}
	defer cl.Close()
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req := &jobsv1.CreateJobRequest{RequestId: *requestID, PartitionKey: *partitionKey}
	for _, e := range exprs {
		req.Operations = append(req.Operations, &jobsv1.OperationInput{Type: *typ, Request: e})
	}
	resp, err := cl.Jobs.CreateJob(cctx, req)
	if err != nil {
		return err
	}
	if *watch {
		return watchJob(ctx, c, env, cl, resp.GetJob().GetId())
	}
	return outJob(c, env, resp.GetJob())
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ", ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// readLines reads one expression per line; CRLF and a final newline are
// fine, blank lines are kept (the service names them by line).
func readLines(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []string
	for sc.Scan() {
		out = append(out, strings.TrimSuffix(sc.Text(), "\r"))
	}
	return out, sc.Err()
}

func cmdGet(ctx context.Context, env *cmdEnv, args []string) error {
	c := newCommon(env, "get", "get JOB_ID", 30*time.Second)
	pos, cl, ctx, done, err := c.prepare(ctx, args, 1, 1)
	if err != nil {
		return err
	}
	defer done()
	j, err := cl.GetJob(ctx, pos[0])
	if err != nil {
		return err
	}
	return outJob(c, env, j)
}

func cmdList(ctx context.Context, env *cmdEnv, args []string) error {
	c := newCommon(env, "list", "list [--filter 'state=SUCCEEDED OR state=FAILED'] [--page-size N] [--page-token T] [--all]", time.Minute)
	filter := c.fs.String("filter", "", "e.g. state=SUCCEEDED, terms joined with OR")
	size := c.fs.Int("page-size", 30, "jobs per page (at most 100)")
	token := c.fs.String("page-token", "", "next_page_token of a previous page")
	all := c.fs.Bool("all", false, "follow every page")
	_, cl, ctx, done, err := c.prepare(ctx, args, 0, 0)
	if err != nil {
		return err
	}
	defer done()
	resp := &jobsv1.ListJobsResponse{}
	tok := *token
	for {
		jobs, next, err := cl.ListJobs(ctx, *filter, int32(min(max(*size, -1), 1000)), tok) // #nosec G115 -- clamped
		if err != nil {
			return err
		}
		resp.Jobs = append(resp.Jobs, jobs...)
		resp.NextPageToken, tok = next, next
		if !*all || next == "" {
			break
		}
	}
	if c.output == "json" {
		return printJSON(env.stdout, resp)
	}
	writeJobs(env.stdout, resp.Jobs)
	if resp.NextPageToken != "" {
		fmt.Fprintf(env.stdout, "next page: --page-token %s\n", resp.NextPageToken)
	}
	return nil
}

func cmdOps(ctx context.Context, env *cmdEnv, args []string) error {
	c := newCommon(env, "ops", "ops JOB_ID [--filter state=FAILED] [--page-size N] [--page-token T] [--all]", time.Minute)
	filter := c.fs.String("filter", "", "e.g. state=FAILED, terms joined with OR")
	size := c.fs.Int("page-size", 30, "operations per page (at most 100)")
	token := c.fs.String("page-token", "", "next_page_token of a previous page")
	all := c.fs.Bool("all", false, "follow every page")
	pos, cl, ctx, done, err := c.prepare(ctx, args, 1, 1)
	if err != nil {
		return err
	}
	defer done()
	resp := &jobsv1.ListJobOperationsResponse{}
	tok := *token
	for {
		ops, next, err := cl.ListOperations(ctx, pos[0], *filter, int32(min(max(*size, -1), 1000)), tok) // #nosec G115 -- clamped
		if err != nil {
			return err
		}
		resp.Operations = append(resp.Operations, ops...)
		resp.NextPageToken, tok = next, next
		if !*all || next == "" {
			break
		}
	}
	if c.output == "json" {
		return printJSON(env.stdout, resp)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tSTATE\tREQUEST\tRESULT\tERROR\tWORKER")
	for _, o := range resp.Operations {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", o.GetIndex(), short(o.GetState().String()), o.GetRequest(), o.GetResult(), o.GetError(), o.GetWorkerNode())
	}
	_ = tw.Flush()
	if resp.NextPageToken != "" {
		fmt.Fprintf(env.stdout, "next page: --page-token %s\n", resp.NextPageToken)
	}
	return nil
}

func cmdWatch(ctx context.Context, env *cmdEnv, args []string) error {
	c := newCommon(env, "watch", "watch JOB_ID   (exit 0 when SUCCEEDED, 3 when FAILED or CANCELLED)", time.Hour)
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	cl, err := c.dial()
	if err != nil {
		return err
	}
	defer cl.Close()
	return watchJob(ctx, c, env, cl, pos[0])
}

// watchJob shows a progress bar on stderr until the job is terminal, then
// the job on stdout.
func watchJob(ctx context.Context, c *common, env *cmdEnv, cl *sdk.Client, id string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	j, err := cl.WatchJob(ctx, id, func(j *jobsv1.Job) {
		if c.output == "json" {
			_ = printJSON(env.stderr, j)
			return
		}
		fmt.Fprintf(env.stderr, "\r%s", progress(j))
	})
	if c.output != "json" {
		fmt.Fprintln(env.stderr)
	}
	if err != nil {
		return err
	}
	if err := outJob(c, env, j); err != nil {
		return err
	}
	if j.GetState() != jobsv1.JobState_JOB_STATE_SUCCEEDED {
		return &jobFailedError{state: short(j.GetState().String())}
	}
	return nil
}

// progress renders a bar: [#########-----------]  45%  4500/10000  failed 3.
func progress(j *jobsv1.Job) string {
	const width = 30
	c := j.GetOperationCounts()
	total := max(j.GetTotalOperations(), 1)
	done := c.GetSucceeded() + c.GetFailed() + c.GetCancelled()
	filled := int(int64(done) * width / int64(total))
	return fmt.Sprintf("[%s%s] %3d%%  %d/%d  succeeded %d  failed %d  cancelled %d  %s",
		strings.Repeat("#", filled), strings.Repeat("-", width-filled), int64(done)*100/int64(total),
		done, j.GetTotalOperations(), c.GetSucceeded(), c.GetFailed(), c.GetCancelled(), short(j.GetState().String()))
}

func cmdCancel(ctx context.Context, env *cmdEnv, args []string) error {
	c := newCommon(env, "cancel", "cancel JOB_ID", 30*time.Second)
	pos, cl, ctx, done, err := c.prepare(ctx, args, 1, 1)
	if err != nil {
		return err
	}
	defer done()
	j, err := cl.CancelJob(ctx, pos[0])
	if err != nil {
		return err
	}
	return outJob(c, env, j)
}

func cmdDelete(ctx context.Context, env *cmdEnv, args []string) error {
	c := newCommon(env, "delete", "delete JOB_ID", 30*time.Second)
	pos, cl, ctx, done, err := c.prepare(ctx, args, 1, 1)
	if err != nil {
		return err
	}
	defer done()
	if err := cl.DeleteJob(ctx, pos[0]); err != nil {
		return err
	}
	if c.output == "json" {
		_, err := fmt.Fprintf(env.stdout, "{\"deleted\":%q}\n", pos[0])
		return err
	}
	fmt.Fprintf(env.stdout, "deleted %s\n", pos[0])
	return nil
}

// num prints a number with 12 significant digits (225.8, not
// 225.79999999999998).
func num(v float64) string { return strconv.FormatFloat(v, 'g', 12, 64) }

func cmdAggregate(ctx context.Context, env *cmdEnv, args []string) error {
	c := newCommon(env, "aggregate", "aggregate JOB_ID", time.Minute)
	pos, cl, ctx, done, err := c.prepare(ctx, args, 1, 1)
	if err != nil {
		return err
	}
	defer done()
	a, err := cl.AggregateJob(ctx, pos[0])
	if err != nil {
		return err
	}
	if c.output == "json" {
		return printJSON(env.stdout, a)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tCOUNT\tSUM\tMEAN\tMIN\tMAX\tP50\tP90\tP99\tPARTIAL")
	fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%v\n", a.GetJobId(), short(a.GetState().String()), a.GetCount(),
		num(a.GetSum()), a.GetMean(), num(a.GetMin()), num(a.GetMax()), num(a.GetP50()), num(a.GetP90()), num(a.GetP99()), a.GetIsPartial())
	return tw.Flush()
}

// ---- cluster ----

func cmdStats(ctx context.Context, env *cmdEnv, args []string) error {
	c := newCommon(env, "stats", "stats   (every node's counters; PARTIAL when a node does not answer)", 30*time.Second)
	_, cl, ctx, done, err := c.prepare(ctx, args, 0, 0)
	if err != nil {
		return err
	}
	defer done()
	st, err := cl.ClusterStats(ctx)
	if err != nil {
		return err
	}
	if c.output == "json" {
		return printJSON(env.stdout, st)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tADDRESS\tUP\tRECEIVED\tACCEPTED\tCOMPLETED\tFAILED\tIN FLIGHT\tAVG TASK\tPARTITIONS\tUPTIME")
	row := func(name, role, addr, up string, t *clusterv1.TaskStats, parts, uptime string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", name, role, addr, up, t.GetReceived(), t.GetAccepted(),
			t.GetCompleted(), t.GetFailed(), t.GetInFlight(), (time.Duration(t.GetAverageTaskSeconds() * float64(time.Second))).Round(time.Microsecond), parts, uptime)
	}
	for _, n := range st.GetNodes() {
		if !n.GetResponding() {
			fmt.Fprintf(tw, "%s\t%s\t%s\tno\t-\t-\t-\t-\t-\t-\t-\t-\n", n.GetNodeId(), short(n.GetRole().String()), n.GetAddress())
			continue
		}
		s := n.GetStats()
		row(n.GetNodeId(), short(n.GetRole().String()), n.GetAddress(), "yes", s.GetTotals(), strconv.Itoa(len(s.GetAssignedPartitions())),
			(time.Duration(s.GetUptimeSeconds()) * time.Second).String())
	}
	row("TOTAL", "", "", fmt.Sprintf("%d/%d", st.GetRespondingNodes(), st.GetTotalNodes()), st.GetTotals(), "", "")
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "nodes %d, responding %d, partial %v\n", st.GetTotalNodes(), st.GetRespondingNodes(), st.GetIsPartial())
	for _, n := range st.GetNodes() {
		if !n.GetResponding() {
			fmt.Fprintf(env.stdout, "  %s: %s\n", n.GetNodeId(), n.GetError())
		}
	}
	return nil
}

// ---- load ----

func cmdBench(ctx context.Context, env *cmdEnv, args []string) error {
	c := newCommon(env, "bench", "bench [--workload w1|w2|w3|w4] [--jobs N] [--ops N] [--concurrency N] [--rate JOBS/S] [--metrics [NAME=]URL]... [--json | --json-file PATH]", 30*time.Minute)
	presets := make([]string, len(bench.Workloads))
	for i, w := range bench.Workloads {
		presets[i] = w.Name + ": " + w.About
	}
	workload := c.fs.String("workload", "w1", "preset; "+strings.Join(presets, "; "))
	var cfg bench.Config
	c.fs.IntVar(&cfg.Jobs, "jobs", 0, "jobs to submit (0: the workload's; w4: of the peak measurement, default 500)")
	c.fs.IntVar(&cfg.OpsPerJob, "ops", 0, "operations per job (0: the workload's)")
	c.fs.IntVar(&cfg.Concurrency, "concurrency", 0, "concurrent callers (0: the workload's)")
	c.fs.Float64Var(&cfg.Rate, "rate", 0, "submit at this many jobs per second (0: as fast as possible)")
	opLatency := c.fs.String("op-latency", "auto", "also read every operation back for per-operation latency: auto (jobs of ≥100 ops or --rate, up to 100,000 ops), on, off")
	var metrics multi
	c.fs.Var(&metrics, "metrics", "a service's /metrics URL, or NAME=URL, for its CPU and memory (repeatable, or comma-separated)")
	asJSON := c.fs.Bool("json", false, "print the result as JSON on stdout and the table on stderr (same as -o json)")
	jsonFile := c.fs.String("json-file", "", "also write the result as JSON to this file")
	peak := c.fs.Float64("peak", 0, "w4: the full-speed operations/s the steps are fractions of (0: measure it first)")
	stepDuration := c.fs.Duration("step-duration", 10*time.Second, "w4: how long each step submits")
	p99Target := c.fs.Duration("p99-target", 50*time.Millisecond, "w4: the job latency p99 bound")
	_, cl, ctx, done, err := c.prepare(ctx, args, 0, 0)
	if err != nil {
		return err
	}
	defer done()
	w, err := bench.LookupWorkload(*workload)
	if err != nil {
		return usagef("--workload: %v", err)
	}
	cfg.Workload = w.Name
	cfg.Jobs, cfg.OpsPerJob, cfg.Concurrency = cmp.Or(cfg.Jobs, w.Jobs), cmp.Or(cfg.OpsPerJob, w.OpsPerJob), cmp.Or(cfg.Concurrency, w.Concurrency)
	if cfg.OpLatency, err = bench.ParseOpLatency(*opLatency); err != nil {
		return usagef("--op-latency: %v", err)
	}
	if cfg.Metrics, err = bench.ParseTargets(metrics); err != nil {
		return usagef("--metrics: %v", err)
	}
	if cfg.HTTPClient, err = c.httpClient(); err != nil {
		return err
	}

	type report interface{ WriteTable(io.Writer) error }
	var res report
	if w.Sweep {
		sc := bench.SweepConfig{Base: cfg, PeakOpsPerSecond: *peak, PeakJobs: cfg.Jobs, StepDuration: *stepDuration, TargetP99: *p99Target,
			Progress: func(i, n int, s bench.Step) {
				fmt.Fprintf(env.stderr, "step %d/%d: %.0f%% of peak, %.0f operations/s offered, job p99 %.1f ms\n", i+1, n, 100*s.Fraction, s.OfferedOpsPerSecond, s.P99ms)
			}}
		res, err = bench.Sweep(ctx, cl.Jobs, sc)
	} else {
		res, err = bench.Run(ctx, cl.Jobs, cfg)
	}
	if err != nil {
		return err
	}
	if *jsonFile != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonFile, append(b, '\n'), 0o600); err != nil {
			return err
		}
	}
	table := env.stdout
	if *asJSON || c.output == "json" {
		if err := json.NewEncoder(env.stdout).Encode(res); err != nil {
			return err
		}
		table = env.stderr
	}
	return res.WriteTable(table)
}

// httpClient is an HTTP client with the TLS flags of the command, for the
// services' /metrics; nil (the default client) without them.
func (c *common) httpClient() (*http.Client, error) {
	cfg, err := c.tls()
	if cfg == nil || err != nil {
		return nil, err
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}, nil
}
