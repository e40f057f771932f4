// Package devstack is the embedded default behind `make run`: in one process
// it runs FerretDB (SQLite) and a 3-broker kfake cluster on fixed TCP ports,
// then starts the client and server services as child processes, restarting
// any that dies, and stops everything cleanly when its context ends.
package devstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jobplane/jobplane/pkg/embedded"
	"github.com/jobplane/jobplane/pkg/nodes"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/tlsconfig"
)

// DefaultToken is the bearer token of the embedded default.
const DefaultToken = "local-dev-token-123" // #nosec G101 -- the documented token of the local stack

// Config configures the devstack.
type Config struct {
	DataDir   string
	Clients   int
	Servers   int
	BinDir    string // directory with the client and server binaries
	MongoPort int
	KafkaPort int // first broker; brokers use KafkaPort..KafkaPort+2
	GRPCPort  int // client i: GRPCPort+i
	HTTPPort  int // client i: HTTPPort+i
	AdminPort int // server i: AdminPort+i
	// ServerGRPCPort: server i serves NodeService on ServerGRPCPort+i; 0
	// gives each a free port (servers register the port they got).
	ServerGRPCPort int
	Token          string
	// Env is added to every child's environment (after the defaults, so it
	// overrides them); the devstack's own environment comes first.
	Env []string
	// Restart restarts a child that exits while the stack runs.
	Restart bool
	// TLS runs the services' listeners with mutual TLS, with development
	// certificates generated once into DataDir/tls (see
	// tlsconfig.EnsureDevCerts) and reused across restarts.
	TLS bool
	// OTLPEndpoint, when set, is passed to the services as
	// OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/gRPC; host:port means plaintext
	// http://host:port), turning tracing on.
	OTLPEndpoint string
	Out          io.Writer
	Logger       *slog.Logger
}

// Run runs the stack until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	out := cfg.Out
	if out == nil {
		out = os.Stdout
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	stack, err := embedded.Start(ctx, embedded.Config{
		DataDir:    cfg.DataDir,
		MongoAddr:  embedded.Addr(cfg.MongoPort),
		KafkaPorts: []int{cfg.KafkaPort, cfg.KafkaPort + 1, cfg.KafkaPort + 2},
	})
	if err != nil {
		return err
	}
	defer func() {
		stack.Close()
		log.Info("embedded kafka and mongodb stopped", "data_dir", cfg.DataDir)
	}()
	// Make FerretDB's `_id` lookups indexed (see embedded.IndexIDs).
	if err := stack.IndexIDs(ctx, "jobplane", store.Collections); err != nil {
		return fmt.Errorf("index mongodb collections: %w", err)
	}
	scheme, hc := "http", &http.Client{Timeout: time.Second}
	var certs tlsconfig.DevCerts
	if cfg.TLS {
		dir, err := filepath.Abs(filepath.Join(cfg.DataDir, "tls"))
		if err != nil {
			return err
		}
		if certs, err = tlsconfig.EnsureDevCerts(dir); err != nil {
			return err
		}
		tc, err := certs.ClientConfig()
		if err != nil {
			return err
		}
		scheme = "https"
		hc.Transport = &http.Transport{TLSClientConfig: tc}
	}
	brokers := stack.KafkaBrokers()
	// Services ensure their topics at start-up; creating them here too makes
	// the infrastructure-only mode (--clients 0 --servers 0) ready for tools.
	topics := (&queue.Settings{RequestTopic: queue.RequestTopic, ResponseTopic: queue.ResponseTopic, DLQTopic: queue.DLQTopic,
		MetricTopic: queue.MetricTopic, Partitions: topicPartitions, ReplicationFactor: 3}).Topics()
	if err := queue.EnsureTopics(ctx, nil, brokers, topics...); err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	logs := make(map[string]int32, len(topics))
	for _, t := range topics {
		logs[t.Name] = int32(t.Partitions) // #nosec G115 -- 60
	}
	if err := stack.PreallocateLogs(logs); err != nil {
		return err
	}

	const serviceMemoryLimit = "120MiB"
	common := []string{
		"MONGODB_URI=" + stack.MongoURI(),
		"KAFKA_BROKERS=" + strings.Join(brokers, ","),
		"AUTH_TOKENS=" + cfg.Token,
		"LOG_FORMAT=text",
		"KAFKA_HEARTBEAT_INTERVAL=500ms",
		"KAFKA_SESSION_TIMEOUT=6s",
		"KAFKA_REBALANCE_TIMEOUT=6s",
		"KAFKA_JOIN_GROUP_BACKOFF=200ms",
		"ENCRYPT_KEY=ZGV2c3RhY2stZW5jcnlwdC1rZXktMzItYnl0ZXMhISE=",
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft memory limit for each service, as the Kubernetes manifests
		// set one (about 90 % of the container's limit): the collector
		// works harder near it instead of letting the heap double, which
		// keeps a service under 150 MB through W3's 100,000-operation job.
		common = append(common, "GOMEMLIMIT="+serviceMemoryLimit)
	}
	if os.Getenv("KAFKA_COMPRESSION") == "" {
		// The brokers are on the loopback: compressing each batch costs the
		// producer and every consumer CPU and saves nothing (zstd was 4–5 %
		// of the client's and servers' CPU under W1).
		common = append(common, "KAFKA_COMPRESSION=none")
	}
	if cfg.TLS {
		common = append(common, "TLS_CERT="+certs.ServiceCrt, "TLS_KEY="+certs.ServiceKey, "TLS_CLIENT_CA="+certs.CA)
	}
	if cfg.OTLPEndpoint != "" {
		common = append(common, "OTEL_EXPORTER_OTLP_ENDPOINT="+OTLPEndpointURL(cfg.OTLPEndpoint))
	}
	promFile, err := writePrometheusConfig(cfg, certs)
	if err != nil {
		return err
	}
	var children []*child
	for i := range cfg.Clients {
		children = append(children, &child{
			name: fmt.Sprintf("client-%d", i),
			bin:  filepath.Join(cfg.BinDir, "client"),
			env: append(append(append([]string{}, common...),
				fmt.Sprintf("NODE_ID=client-%d", i),
				fmt.Sprintf("GRPC_ADDR=127.0.0.1:%d", cfg.GRPCPort+i),
				fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", cfg.HTTPPort+i)), cfg.Env...),
			ready: fmt.Sprintf("%s://127.0.0.1:%d/readyz", scheme, cfg.HTTPPort+i),
		})
	}
	for i := range cfg.Servers {
		grpcPort := 0
		if cfg.ServerGRPCPort > 0 {
			grpcPort = cfg.ServerGRPCPort + i
		}
		children = append(children, &child{
			name: fmt.Sprintf("server-%d", i),
			bin:  filepath.Join(cfg.BinDir, "server"),
			env: append(append(append([]string{}, common...),
				fmt.Sprintf("NODE_ID=server-%d", i),
				fmt.Sprintf("ADMIN_ADDR=127.0.0.1:%d", cfg.AdminPort+i),
				fmt.Sprintf("GRPC_ADDR=127.0.0.1:%d", grpcPort)), cfg.Env...),
			ready: fmt.Sprintf("%s://127.0.0.1:%d/readyz", scheme, cfg.AdminPort+i), consumes: true,
		})
	}

	var wg sync.WaitGroup
	for _, c := range children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.supervise(ctx, log, out, cfg.Restart)
		}()
	}
	waitReady(ctx, hc, children)
	if !waitBalanced(ctx, hc, children, topicPartitions, 15*time.Second) {
		log.Warn("servers not balanced yet: the first jobs may wait for a rebalance", "partitions", topicPartitions)
	}

	fmt.Fprintf(out, "\njobplane is running (data in %s)\n", cfg.DataDir)
	fmt.Fprintf(out, "  mongodb   %s   (FerretDB, SQLite)\n", stack.MongoURI())
	fmt.Fprintf(out, "  kafka     %s   (kfake)\n", strings.Join(brokers, ","))
	for i := range cfg.Clients {
		fmt.Fprintf(out, "  client-%d  REST %s://127.0.0.1:%d   gRPC 127.0.0.1:%d\n", i, scheme, cfg.HTTPPort+i, cfg.GRPCPort+i)
	}
	for i := range cfg.Servers {
		fmt.Fprintf(out, "  server-%d  admin %s://127.0.0.1:%d/metrics", i, scheme, cfg.AdminPort+i)
		if cfg.ServerGRPCPort > 0 {
			fmt.Fprintf(out, "   gRPC 127.0.0.1:%d (NodeService)", cfg.ServerGRPCPort+i)
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "  token     %s\n", cfg.Token)
	if cfg.OTLPEndpoint != "" {
		fmt.Fprintf(out, "  traces    OTLP/gRPC to %s\n", OTLPEndpointURL(cfg.OTLPEndpoint))
	}
	if cfg.Clients+cfg.Servers > 0 {
		fmt.Fprintf(out, "  metrics   prometheus --config.file=%s   (scrapes every service; UI on :9090)\n", promFile)
	}
	if cfg.TLS {
		fmt.Fprintf(out, "  tls       mutual TLS 1.3; CA %s, client certificate %s, key %s\n", certs.CA, certs.ClientCrt, certs.ClientKey)
	}
	fmt.Fprintln(out)
	if cfg.Clients > 0 {
		curlTLS, grpcTLS := "", "-plaintext"
		if cfg.TLS {
			curlTLS = fmt.Sprintf("--cacert %s --cert %s --key %s ", certs.CA, certs.ClientCrt, certs.ClientKey)
			grpcTLS = fmt.Sprintf("-cacert %s -cert %s -key %s", certs.CA, certs.ClientCrt, certs.ClientKey)
		}
		fmt.Fprintf(out, "try: curl %s-H 'Authorization: Bearer %s' -H 'Content-Type: text/plain' --data-binary $'69\\n1 + 2 + 3 - 7 * 2\\n' %s://127.0.0.1:%d/v1/jobs\n", curlTLS, cfg.Token, scheme, cfg.HTTPPort)
		fmt.Fprintf(out, "try: grpcurl %s 127.0.0.1:%d list\n", grpcTLS, cfg.GRPCPort)
	}

	// The banner's last line: tools wait for it to know that the stack is
	// up and the banner complete.
	fmt.Fprintf(out, "%s\n\n", ReadyLine)
	<-ctx.Done()
	log.Info("stopping services")
	wg.Wait()
	return nil
}

type child struct {
	name, bin, ready string
	env              []string
	// consumes: a server, whose /readyz says how many request-topic
	// partitions it holds (see waitBalanced).
	consumes bool
}

// supervise runs the child until ctx ends, restarting it if it exits.
func (c *child) supervise(ctx context.Context, log *slog.Logger, out io.Writer, restart bool) {
	for {
		err := c.run(ctx, out)
		if ctx.Err() != nil {
			return
		}
		log.Warn("service exited", "service", c.name, "err", err)
		if !restart {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		log.Info("restarting service", "service", c.name)
	}
}

func (c *child) run(ctx context.Context, out io.Writer) error {
	cmd := exec.Command(c.bin) // #nosec G204 -- our own client/server binary from --bin-dir
	cmd.Env = append(os.Environ(), c.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	go prefixLines(out, c.name, pr)
	if err := cmd.Start(); err != nil {
		_ = pw.Close()
		return fmt.Errorf("start %s: %w", c.bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); _ = pw.Close() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			return errors.Join(errors.New("killed after 30s"), <-done)
		}
	}
}

func prefixLines(out io.Writer, name string, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fmt.Fprintf(out, "[%s] %s\n", name, sc.Text())
	}
	_, _ = io.Copy(io.Discard, r)
}

// topicPartitions is the partition count of the stack's topics.
const topicPartitions = 60

// ReadyLine ends devstack's banner, printed once every service is ready.
const ReadyLine = "Press Ctrl-C to stop."

// waitReady polls every child's readiness endpoint with hc (at most a
// minute).
func waitReady(ctx context.Context, hc *http.Client, children []*child) {
	deadline := time.Now().Add(time.Minute)
	for _, c := range children {
		if !pollUntil(ctx, deadline, func() bool { return isReady(hc, c.ready) }) {
			return
		}
	}
}

// isReady reports whether a readiness endpoint answers 200.
func isReady(hc *http.Client, url string) bool {
	_, ok := readyBody(hc, url)
	return ok
}

// readyBody reads a readiness endpoint's body (at most 1 KiB); ok when it
// answered 200.
func readyBody(hc *http.Client, url string) (body string, ok bool) {
	resp, err := hc.Get(url)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	return string(b), err == nil && resp.StatusCode == http.StatusOK
}

// waitBalanced polls the servers' readiness endpoints until together they
// hold all partitions of the request topic, each server some (fewer
// servers than partitions), and reports whether that happened within
// timeout. A server is ready once it has joined the consumer group, but
// when the second one joins the group rebalances: every partition stops
// for a moment. Load started before that, as a benchmark's right after the
// ready line, finds its first jobs waiting behind it. Measured on paced W1
// runs: starting 8 s after the ready line brought the slowest of the first
// jobs from up to 500 ms to 100-180 ms; the rest of that start-up tail was
// kfake's first writes (see embedded.PreallocateLogs).
func waitBalanced(ctx context.Context, hc *http.Client, children []*child, partitions int, timeout time.Duration) bool {
	return pollUntil(ctx, time.Now().Add(timeout), func() bool { return balanced(hc, children, partitions) })
}

// pollUntil calls ok every 100 ms until it reports true (pollUntil then
// reports true), deadline passes or ctx ends.
func pollUntil(ctx context.Context, deadline time.Time, ok func() bool) bool {
	for {
		if ok() {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// balanced reads every server's readiness once (see waitBalanced).
func balanced(hc *http.Client, children []*child, partitions int) bool {
	var held []int
	for _, c := range children {
		if !c.consumes {
			continue
		}
		n, ok := assignedPartitions(hc, c.ready)
		if !ok {
			return false
		}
		held = append(held, n)
	}
	total := 0
	for _, n := range held {
		if n == 0 && len(held) <= partitions {
			return false
		}
		total += n
	}
	return len(held) == 0 || total == partitions
}

// assignedPartitions reads the partitions a server holds from its
// readiness endpoint (nodes.ReadyText).
func assignedPartitions(hc *http.Client, url string) (int, bool) {
	body, ok := readyBody(hc, url)
	if !ok {
		return 0, false
	}
	return nodes.ParseReady(body)
}
