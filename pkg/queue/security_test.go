package queue_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/env"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/tlsconfig"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

const (
	scramUser = "jobplane"
	scramPass = "correct-horse-battery-staple"
)

// secureCluster starts a 3-broker kfake cluster that requires SASL
// (SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN users) over mutual TLS, and
// returns its brokers and the dev PKI whose CA signed both sides.
func secureCluster(t *testing.T) ([]string, tlsconfig.DevCerts) {
	t.Helper()
	certs, err := tlsconfig.EnsureDevCerts(filepath.Join(t.TempDir(), "tls"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := tlsconfig.Files{Cert: certs.ServiceCrt, Key: certs.ServiceKey, ClientCA: certs.CA}.Load()
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(3),
		kfake.GroupMinSessionTimeout(100*time.Millisecond),
		kfake.EnableSASL(),
		kfake.Superuser(queue.SASLScramSHA256, scramUser, scramPass),
		kfake.Superuser(queue.SASLScramSHA512, "user512", "pass512"),
		kfake.Superuser(queue.SASLPlain, "plainuser", "plainpass"),
		kfake.TLS(id.Server()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs(), certs
}

// settings reads queue.Settings from vars as the services do.
func settings(t *testing.T, vars map[string]string) queue.Settings {
	t.Helper()
	r := &env.Reader{Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	s := queue.SettingsFromEnv(r)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

func secureVars(brokers []string, certs tlsconfig.DevCerts, mechanism, user, pass string) map[string]string {
	return map[string]string{
		"KAFKA_BROKERS":        strings.Join(brokers, ","),
		"KAFKA_TLS":            "true",
		"KAFKA_TLS_CA":         certs.CA,
		"KAFKA_TLS_CERT":       certs.ClientCrt,
		"KAFKA_TLS_KEY":        certs.ClientKey,
		"KAFKA_SASL_MECHANISM": mechanism,
		"KAFKA_SASL_USERNAME":  user,
		"KAFKA_SASL_PASSWORD":  pass,
	}
}

// TestSCRAMOverMutualTLS produces and consumes through the services' writer
// and consumer with SCRAM-SHA-256 over mutual TLS.
func TestSCRAMOverMutualTLS(t *testing.T) {
	t.Parallel()
	brokers, certs := secureCluster(t)
	s := settings(t, secureVars(brokers, certs, "scram-sha-256", scramUser, scramPass))
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	conn, err := s.Conn()
	if err != nil {
		t.Fatal(err)
	}
	if conn.Dialer == nil || conn.Transport == nil || conn.Dialer.SASLMechanism.Name() != queue.SASLScramSHA256 {
		t.Fatalf("Conn() = %+v", conn)
	}
	const topic = "secure.topic"
	if err := queue.EnsureTopics(t.Context(), conn.Dialer, s.Brokers, queue.TopicSpec{Name: topic, Partitions: 3, ReplicationFactor: 3}); err != nil {
		t.Fatal(err)
	}
	w := queue.NewWriter(queue.WriterConfig{Brokers: s.Brokers, Transport: conn.Transport})
	defer w.Close()
	const n = 30
	var msgs []kafka.Message
	for i := range n {
		msgs = append(msgs, kafka.Message{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := w.WriteMessages(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	seen := map[string]bool{}
	done := make(chan struct{})
	ccfg := s.ConsumerFor("secure-group", topic)
	ccfg.Dialer = conn.Dialer
	ccfg.HeartbeatInterval, ccfg.SessionTimeout, ccfg.RebalanceTimeout = 100*time.Millisecond, time.Second, time.Second
	ccfg.JoinGroupBackoff, ccfg.MaxWait, ccfg.ShutdownTimeout = 100*time.Millisecond, 100*time.Millisecond, 5*time.Second
	c := queue.NewConsumer(ccfg, func(_ context.Context, _ int, batch []kafka.Message) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			seen[string(m.Value)] = true
		}
		if len(seen) == n {
			select {
			case <-done:
			default:
				close(done)
			}
		}
		return nil
	})
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("consumed %d of %d messages", len(seen), n)
	}
}

// TestOtherMechanisms writes with SCRAM-SHA-512 and PLAIN.
func TestOtherMechanisms(t *testing.T) {
	t.Parallel()
	brokers, certs := secureCluster(t)
	for _, tt := range []struct{ mechanism, user, pass string }{
		{queue.SASLScramSHA512, "user512", "pass512"},
		{queue.SASLPlain, "plainuser", "plainpass"},
	} {
		t.Run(tt.mechanism, func(t *testing.T) {
			s := settings(t, secureVars(brokers, certs, tt.mechanism, tt.user, tt.pass))
			conn, err := s.Conn()
			if err != nil {
				t.Fatal(err)
			}
			topic := "topic-" + strings.ToLower(tt.mechanism)
			if err := queue.EnsureTopics(t.Context(), conn.Dialer, s.Brokers, queue.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: 1}); err != nil {
				t.Fatal(err)
			}
			w := queue.NewWriter(queue.WriterConfig{Brokers: s.Brokers, Transport: conn.Transport})
			defer w.Close()
			if err := w.WriteMessages(t.Context(), kafka.Message{Topic: topic, Value: []byte("x")}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWrongCredentialsFail checks that a wrong password fails topic
// creation and writes with an authentication error that does not contain
// the password.
func TestWrongCredentialsFail(t *testing.T) {
	t.Parallel()
	brokers, certs := secureCluster(t)
	const wrong = "not-the-password-42"
	s := settings(t, secureVars(brokers, certs, queue.SASLScramSHA256, scramUser, wrong))
	conn, err := s.Conn()
	if err != nil {
		t.Fatal(err)
	}
	// The services ensure their topics first, so a wrong password stops
	// them at start-up with this error.
	err = queue.EnsureTopics(t.Context(), conn.Dialer, s.Brokers, queue.TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1})
	if err == nil || !strings.Contains(err.Error(), "SASL Authentication Failed") || strings.Contains(err.Error(), wrong) {
		t.Fatalf("EnsureTopics: %v, want a SASL authentication error without the password", err)
	}
	t.Logf("EnsureTopics: %v", err)

	// The writer fails too. (kfake closes the connection on a failed
	// exchange, which kafka-go's transport reports as "unexpected EOF"
	// over TLS; a real broker answers error code 58, SASL Authentication
	// Failed.)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	w := queue.NewWriter(queue.WriterConfig{Brokers: s.Brokers, Transport: conn.Transport})
	defer w.Close()
	err = w.WriteMessages(ctx, kafka.Message{Topic: "t", Value: []byte("x")})
	if err == nil || strings.Contains(err.Error(), wrong) {
		t.Fatalf("WriteMessages: %v, want an error without the password", err)
	}

	// Without a client certificate the mutual-TLS brokers refuse the
	// connection before SASL.
	vars := secureVars(brokers, certs, queue.SASLScramSHA256, scramUser, scramPass)
	delete(vars, "KAFKA_TLS_CERT")
	delete(vars, "KAFKA_TLS_KEY")
	s = settings(t, vars)
	if conn, err = s.Conn(); err != nil {
		t.Fatal(err)
	}
	if err := queue.EnsureTopics(t.Context(), conn.Dialer, s.Brokers, queue.TopicSpec{Name: "t", Partitions: 1}); err == nil {
		t.Fatal("EnsureTopics without a client certificate succeeded")
	}
}

func TestSecurityValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sec  queue.Security
		want string // substring of the error; "" = valid
	}{
		{"none", queue.Security{}, ""},
		{"tls only", queue.Security{TLS: true}, ""},
		{"scram", queue.Security{SASLMechanism: "SCRAM-SHA-512", SASLUsername: "u", SASLPassword: "p"}, ""},
		{"mechanism without username", queue.Security{SASLMechanism: "PLAIN", SASLPassword: "p"}, "KAFKA_SASL_USERNAME"},
		{"mechanism without password", queue.Security{SASLMechanism: "SCRAM-SHA-256", SASLUsername: "u"}, "KAFKA_SASL_PASSWORD"},
		{"unknown mechanism", queue.Security{SASLMechanism: "GSSAPI", SASLUsername: "u", SASLPassword: "p"}, "KAFKA_SASL_MECHANISM"},
		{"credentials without mechanism", queue.Security{SASLUsername: "u", SASLPassword: "p"}, "KAFKA_SASL_MECHANISM"},
		{"ca without tls", queue.Security{TLSCA: "/ca.pem"}, "KAFKA_TLS_CA"},
		{"cert without key", queue.Security{TLS: true, TLSCert: "/c.pem"}, "KAFKA_TLS_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.sec.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestConn(t *testing.T) {
	t.Parallel()
	// Plaintext: kafka-go's defaults.
	if conn, err := (&queue.Security{}).Conn(); err != nil || conn.Dialer != nil || conn.Transport != nil {
		t.Fatalf("plaintext Conn() = %+v, %v", conn, err)
	}
	// A missing file is named by its variable.
	_, err := (&queue.Security{TLS: true, TLSCA: "/nonexistent/ca.pem"}).Conn()
	if err == nil || !strings.Contains(err.Error(), "KAFKA_TLS_CA=/nonexistent/ca.pem") {
		t.Fatalf("missing CA: %v", err)
	}
	// A password SASLprep rejects is named, never quoted.
	const bad = "secret\u0007bell"
	_, err = (&queue.Security{SASLMechanism: queue.SASLScramSHA256, SASLUsername: "u", SASLPassword: bad}).Conn()
	if err == nil || !strings.Contains(err.Error(), "KAFKA_SASL_PASSWORD") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("bad password: %v", err)
	}
}
