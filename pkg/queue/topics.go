// Package queue is jobplane's Kafka layer on segmentio/kafka-go: topic
// creation, the shared producer, the consumer-group consumer, and the wire
// format of the messages.
package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// Default topic names.
const (
	RequestTopic  = "application.operation.request"
	ResponseTopic = "application.operation.response"
	DLQTopic      = "application.operation.request.dlq"
	// MetricTopic carries metric samples, keyed by metric name.
	MetricTopic = "application.metric.sample"
)

// ErrPartitionMismatch means an existing topic has a different partition
// count than configured.
var ErrPartitionMismatch = errors.New("topic partition count differs from configuration")

// TopicSpec describes a topic to ensure.
type TopicSpec struct {
	Name       string
	Partitions int
	// ReplicationFactor of a created topic; capped at the number of brokers.
	ReplicationFactor int
	// Configs of a created topic, e.g. min.insync.replicas.
	Configs map[string]string
}

// EnsureTopics creates the topics that are missing (never relying on
// auto-creation) and checks the partition count of those that exist.
// CreateTopics goes to the controller, as Kafka requires.
func EnsureTopics(ctx context.Context, dialer *kafka.Dialer, brokers []string, specs ...TopicSpec) error {
	if dialer == nil {
		dialer = &kafka.Dialer{Timeout: 10 * time.Second}
	}
	conn, err := dialAny(ctx, dialer, brokers)
	if err != nil {
		return err
	}
	defer conn.Close()
	bs, err := conn.Brokers()
	if err != nil {
		return fmt.Errorf("list brokers: %w", err)
	}
	ctrl, err := conn.Controller()
	if err != nil {
		return fmt.Errorf("find controller: %w", err)
	}
	cconn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		return fmt.Errorf("dial controller: %w", err)
	}
	defer cconn.Close()

	for _, spec := range specs {
		parts, err := conn.ReadPartitions(spec.Name)
		switch {
		case err == nil && len(parts) > 0:
			if len(parts) != spec.Partitions {
				return fmt.Errorf("%w: topic %s has %d partitions, configured %d", ErrPartitionMismatch, spec.Name, len(parts), spec.Partitions)
			}
			continue
		case err != nil && !errors.Is(err, kafka.UnknownTopicOrPartition):
			return fmt.Errorf("read partitions of %s: %w", spec.Name, err)
		}
		rf := min(max(spec.ReplicationFactor, 1), len(bs))
		tc := kafka.TopicConfig{Topic: spec.Name, NumPartitions: spec.Partitions, ReplicationFactor: rf}
		for k, v := range spec.Configs {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
		}
		if err := cconn.CreateTopics(tc); err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", spec.Name, err)
		}
		if err := waitTopic(ctx, dialer, brokers, spec); err != nil {
			return err
		}
	}
	return nil
}

// waitTopic waits until metadata shows every partition of a new topic.
func waitTopic(ctx context.Context, dialer *kafka.Dialer, brokers []string, spec TopicSpec) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := dialAny(ctx, dialer, brokers)
		if err == nil {
			parts, perr := conn.ReadPartitions(spec.Name)
			_ = conn.Close()
			if perr == nil && len(parts) == spec.Partitions {
				return nil
			}
			err = perr
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s not ready: %v", spec.Name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func dialAny(ctx context.Context, dialer *kafka.Dialer, brokers []string) (*kafka.Conn, error) {
	var errs []error
	for _, b := range brokers {
		conn, err := dialer.DialContext(ctx, "tcp", b)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("dial kafka %v: %w", brokers, errors.Join(errs...))
}

// JobplaneTopics are the request, response and dead-letter topics with the
// same partition count and replication factor; with 3 or more replicas,
// min.insync.replicas is 2, so acks=all survives one broker down.
func JobplaneTopics(request, response, dlq string, partitions, replicationFactor int) []TopicSpec {
	configs := map[string]string{}
	if replicationFactor >= 3 {
		configs["min.insync.replicas"] = "2"
	}
	var specs []TopicSpec
	for _, name := range []string{request, response, dlq} {
		specs = append(specs, TopicSpec{Name: name, Partitions: partitions, ReplicationFactor: replicationFactor, Configs: configs})
	}
	return specs
}
