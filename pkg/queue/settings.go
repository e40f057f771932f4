package queue

import (
	"errors"
	"fmt"
	"time"

	"github.com/jobplane/jobplane/pkg/env"
)

// Settings are the Kafka settings every service shares. SettingsFromEnv
// documents the environment variable of each field.
type Settings struct {
	Brokers           []string // KAFKA_BROKERS, default 127.0.0.1:9092
	RequestTopic      string   // KAFKA_REQUEST_TOPIC
	ResponseTopic     string   // KAFKA_RESPONSE_TOPIC
	DLQTopic          string   // KAFKA_DLQ_TOPIC
	MetricTopic       string   // KAFKA_METRIC_TOPIC
	Partitions        int      // KAFKA_PARTITIONS, default 60
	ReplicationFactor int      // KAFKA_REPLICATION_FACTOR, default 3 (capped at the broker count)
	// Compression of produced batches (KAFKA_COMPRESSION): none, gzip,
	// snappy, lz4 or zstd (default).
	Compression string
	// Consumer holds the group timing (KAFKA_HEARTBEAT_INTERVAL,
	// KAFKA_SESSION_TIMEOUT, KAFKA_REBALANCE_TIMEOUT,
	// KAFKA_JOIN_GROUP_BACKOFF, KAFKA_FETCH_MAX_WAIT); tests shorten them.
	Consumer ConsumerConfig
	// Security holds KAFKA_TLS* and KAFKA_SASL_* (see SecurityFromEnv);
	// Conn turns it into the dialer and transport.
	Security Security
}

// SettingsFromEnv reads the Kafka settings; parse errors are collected in r.
func SettingsFromEnv(r *env.Reader) Settings {
	return Settings{
		Brokers:           r.List("KAFKA_BROKERS", []string{"127.0.0.1:9092"}),
		RequestTopic:      r.String("KAFKA_REQUEST_TOPIC", RequestTopic),
		ResponseTopic:     r.String("KAFKA_RESPONSE_TOPIC", ResponseTopic),
		DLQTopic:          r.String("KAFKA_DLQ_TOPIC", DLQTopic),
		MetricTopic:       r.String("KAFKA_METRIC_TOPIC", MetricTopic),
		Partitions:        r.Int("KAFKA_PARTITIONS", 60),
		ReplicationFactor: r.Int("KAFKA_REPLICATION_FACTOR", 3),
		Compression:       r.String("KAFKA_COMPRESSION", "zstd"),
		Consumer: ConsumerConfig{
			HeartbeatInterval: r.Duration("KAFKA_HEARTBEAT_INTERVAL", 3*time.Second),
			SessionTimeout:    r.Duration("KAFKA_SESSION_TIMEOUT", 30*time.Second),
			RebalanceTimeout:  r.Duration("KAFKA_REBALANCE_TIMEOUT", 30*time.Second),
			JoinGroupBackoff:  r.Duration("KAFKA_JOIN_GROUP_BACKOFF", time.Second),
			MaxWait:           r.Duration("KAFKA_FETCH_MAX_WAIT", time.Second),
		},
		Security: SecurityFromEnv(r),
	}
}

// Validate returns an error naming every bad variable.
func (s *Settings) Validate() error {
	var errs []error
	if len(s.Brokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS: at least one broker is required"))
	}
	if s.Partitions < 1 || s.Partitions > 10000 {
		errs = append(errs, fmt.Errorf("KAFKA_PARTITIONS=%d: want 1..10000", s.Partitions))
	}
	if s.ReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("KAFKA_REPLICATION_FACTOR=%d: want >= 1", s.ReplicationFactor))
	}
	if _, err := ParseCompression(s.Compression); err != nil {
		errs = append(errs, fmt.Errorf("KAFKA_COMPRESSION: %w", err))
	}
	errs = append(errs, s.Security.Validate())
	return errors.Join(errs...)
}

// Writer returns the configuration of the shared producer (NewWriter) on
// conn's transport.
func (s *Settings) Writer(conn Conn) WriterConfig {
	return WriterConfig{Brokers: s.Brokers, Transport: conn.Transport, Compression: s.Compression}
}

// Conn returns the dialer and transport of the brokers (see Security.Conn).
func (s *Settings) Conn() (Conn, error) { return s.Security.Conn() }

// Topics are the topics the services ensure at start-up.
func (s *Settings) Topics() []TopicSpec {
	specs := JobplaneTopics(s.RequestTopic, s.ResponseTopic, s.DLQTopic, s.Partitions, s.ReplicationFactor)
	if s.MetricTopic != "" {
		metric := specs[0]
		metric.Name = s.MetricTopic
		specs = append(specs, metric)
	}
	return specs
}

// ConsumerFor returns the consumer configuration of group on topic.
func (s *Settings) ConsumerFor(group, topic string) ConsumerConfig {
	c := s.Consumer
	c.Brokers, c.GroupID, c.Topic = s.Brokers, group, topic
	return c
}
