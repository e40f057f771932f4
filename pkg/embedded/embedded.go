// Package embedded runs real wire-protocol servers in-process: a kfake Kafka
// cluster and a FerretDB (SQLite backend) MongoDB-compatible server, each on a
// TCP port. It exists for the embedded default (`make run`) and for tests;
// the production binaries (cmd/client, cmd/server) never import it.
package embedded

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Config describes the in-process infrastructure.
type Config struct {
	// DataDir holds the Kafka log and the SQLite databases. Empty means
	// in-memory Kafka and a temporary directory for SQLite that is removed
	// on Close.
	DataDir string
	// MongoAddr is the FerretDB listen address; "127.0.0.1:0" picks a free port.
	MongoAddr string
	// KafkaPorts are the broker ports; zeros pick free ports. Its length is
	// the number of brokers (default 3 random ports).
	KafkaPorts []int
	// Topics are created at start with the given partition counts, their
	// logs preallocated (PreallocateLogs). Optional: services create their
	// own topics at start-up.
	Topics map[string]int32
	// Logger receives FerretDB logs (quiet by default).
	Logger *slog.Logger
}

var ferretMu sync.Mutex

// Stack is a running in-process Kafka cluster and MongoDB-compatible server.
type Stack struct {
	Kafka    *kfake.Cluster
	ferret   *ferretdb.FerretDB
	cancel   context.CancelFunc
	done     chan error
	mongoURI string
	tmpDir   string
	// kafkaDir is kfake's data dir ("" for in-memory Kafka).
	kafkaDir string
	// sqliteDir holds FerretDB's SQLite databases.
	sqliteDir string
}

// GroupsLogCompactBytes is the size at which kfake rewrites its log of
// consumer-group state (groups.log, one entry per committed offset) keeping
// the latest entry of each key. kfake does this inside the request loop
// that serves every broker, so every Kafka request waits for it. At kfake's
// default, 10 MB, that took about 250 ms, every minute or two under W1
// load at half its peak (the services commit the offsets of 120 partitions
// several times a second), and stalled 134 jobs past 50 ms. At 256 KB a
// rewrite reads a fortieth as much and leaves the latest entries, about
// 20 KB.
const GroupsLogCompactBytes = 256 << 10

// Start starts FerretDB and kfake and returns when both accept connections.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	s := &Stack{}
	dataDir := cfg.DataDir
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "jobplane-embedded-*")
		if err != nil {
			return nil, fmt.Errorf("embedded temp dir: %w", err)
		}
		s.tmpDir = tmp
		dataDir = tmp
	}
	sqliteDir := filepath.Join(dataDir, "mongo")
	s.sqliteDir = sqliteDir
	if err := os.MkdirAll(sqliteDir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded mongo dir: %w", err)
	}
	ports := cfg.KafkaPorts
	if len(ports) == 0 {
		ports = []int{0, 0, 0}
	}
	ports, err := resolvePorts(ports)
	if err != nil {
		return nil, err
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(len(ports)),
		kfake.Ports(ports...),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
		kfake.DefaultNumPartitions(60),
	}
	if cfg.DataDir != "" {
		s.kafkaDir = filepath.Join(dataDir, "kafka")
		opts = append(opts, kfake.DataDir(s.kafkaDir),
			kfake.BrokerConfigs(map[string]string{"state.log.compact.bytes": strconv.Itoa(GroupsLogCompactBytes)}))
	}
	for topic, n := range cfg.Topics {
		opts = append(opts, kfake.SeedTopics(n, topic))
	}
	kc, err := kfake.NewCluster(opts...)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	s.Kafka = kc
	if err := s.PreallocateLogs(cfg.Topics); err != nil {
		kc.Close()
		s.cleanup()
		return nil, err
	}

	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	addr := cmp.Or(cfg.MongoAddr, "127.0.0.1:0")
	// ferretdb.New writes a package-level variable (its version info), so
	// concurrent stacks (parallel tests) must not construct at once.
	ferretMu.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + sqliteDir + "/?_pragma=synchronous(NORMAL)",
		Logger:    slog.New(&lazyAttrs{inner: logger.Handler()}),
	})
	ferretMu.Unlock()
	if err != nil {
		kc.Close()
		s.cleanup()
		return nil, fmt.Errorf("start ferretdb: %w", err)
	}
	s.ferret = f
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.done = make(chan error, 1)
	go func() { s.done <- f.Run(runCtx) }()
	s.mongoURI = f.MongoDBURI()
	u, err := url.Parse(s.mongoURI)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("ferretdb uri %q: %w", s.mongoURI, err)
	}
	if err := waitTCP(ctx, u.Host); err != nil {
		s.Close()
		return nil, fmt.Errorf("ferretdb not reachable: %w", err)
	}
	return s, nil
}

// MongoURI is the mongodb:// URI of the FerretDB server.
func (s *Stack) MongoURI() string { return s.mongoURI }

// KafkaBrokers are the broker addresses (host:port).
func (s *Stack) KafkaBrokers() []string { return s.Kafka.ListenAddrs() }

// PreallocateLogs creates the log files of every partition of topics that
// has no segment yet, as kfake would on the partition's first write (the first
// segment, "0.dat", and its index, "0.idx", in
// partitions/{topic}-{partition}; kfake appends to them). kfake serves every
// broker from one request loop, and a data dir on disk made it create
// those files there: measured on a fresh `make run`, the first half second
// of a paced W1 run (120 partitions written for the first time) had a job
// p99 of 120-470 ms, against 40-60 ms with the files created beforehand.
// Start does it for Config.Topics; a no-op for in-memory Kafka. Empty segment files are what a crash right
// after kfake created them leaves, which its recovery prunes. The layout is
// kfake's at the version go.mod pins (persist.go: partDir, segmentFileName,
// indexFileName); TestPreallocatedLogsTakeWrites checks that kfake writes
// into these files and reads them back after a restart.
func (s *Stack) PreallocateLogs(topics map[string]int32) error {
	if s.kafkaDir == "" {
		return nil
	}
	for topic, n := range topics {
		for p := range n {
			dir := filepath.Join(s.kafkaDir, "partitions", url.PathEscape(topic)+"-"+strconv.Itoa(int(p)))
			if segs, _ := filepath.Glob(filepath.Join(dir, "*.dat")); len(segs) > 0 {
				continue // written before, or preallocated by an earlier start
			}
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return fmt.Errorf("preallocate kafka log: %w", err)
			}
			for _, name := range []string{"0.dat", "0.idx"} {
				path := filepath.Join(dir, name)
				f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600) // #nosec G304 -- under the stack's own data dir
				if err != nil {
					return fmt.Errorf("preallocate kafka log: %w", err)
				}
				if err := f.Close(); err != nil {
					return fmt.Errorf("preallocate kafka log: %w", err)
				}
			}
		}
	}
	return nil
}

// Close stops both servers, persisting Kafka state when a data dir is set.
// It is safe to call more than once.
func (s *Stack) Close() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
	if s.Kafka != nil {
		s.Kafka.Close()
	}
	s.cleanup()
}

func (s *Stack) cleanup() {
	if s.tmpDir != "" {
		_ = os.RemoveAll(s.tmpDir)
		s.tmpDir = ""
	}
}

// resolvePorts replaces zero ports with free ones so that every broker has a
// known port before the cluster starts.
func resolvePorts(ports []int) ([]int, error) {
	out := make([]int, len(ports))
	for i, p := range ports {
		if p != 0 {
			out[i] = p
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick free port: %w", err)
		}
		out[i] = l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
	}
	return out, nil
}

func waitTCP(ctx context.Context, addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Addr formats 127.0.0.1:port.
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
