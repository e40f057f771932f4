package queue

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"
	produceAPI "github.com/segmentio/kafka-go/protocol/produce"
)

// countingTransport answers metadata requests with resp (or err) and counts
// the requests it sees.
type countingTransport struct {
	calls int
	resp  kafka.Response
	err   error
}

func (c *countingTransport) RoundTrip(_ context.Context, _ net.Addr, _ kafka.Request) (kafka.Response, error) {
	c.calls++
	return c.resp, c.err
}

func metadataOf(topic string, code int16, partitions int) *metadataAPI.Response {
	t := metadataAPI.ResponseTopic{Name: topic, ErrorCode: code}
	for i := range partitions {
		t.Partitions = append(t.Partitions, metadataAPI.ResponsePartition{PartitionIndex: int32(i)})
	}
	return &metadataAPI.Response{Topics: []metadataAPI.ResponseTopic{t}}
}

func TestMetadataCache(t *testing.T) {
	addr := kafka.TCP("127.0.0.1:9092")
	ask := func(topics ...string) kafka.Request { return &metadataAPI.Request{TopicNames: topics} }
	tests := []struct {
		name      string
		resp      kafka.Response
		err       error
		req       kafka.Request
		advance   time.Duration // between the two requests
		wantCalls int
	}{
		{"reused within the TTL", metadataOf("t", 0, 60), nil, ask("t"), 999 * time.Millisecond, 1},
		{"asked again after the TTL", metadataOf("t", 0, 60), nil, ask("t"), time.Second, 2},
		{"topic error not reused", metadataOf("t", 3, 0), nil, ask("t"), 0, 2},
		{"no partitions not reused", metadataOf("t", 0, 0), nil, ask("t"), 0, 2},
		{"other topic's answer not reused", metadataOf("u", 0, 60), nil, ask("t"), 0, 2},
		{"transport error not reused", nil, errors.New("broken pipe"), ask("t"), 0, 2},
		{"several topics go through", metadataOf("t", 0, 60), nil, ask("t", "u"), 0, 2},
		{"produce goes through", &produceAPI.Response{}, nil, &produceAPI.Request{}, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := &countingTransport{resp: tt.resp, err: tt.err}
			now := time.Unix(1_700_000_000, 0)
			c := newMetadataCache(inner, time.Second, func() time.Time { return now })
			first, err1 := c.RoundTrip(t.Context(), addr, tt.req)
			now = now.Add(tt.advance)
			second, err2 := c.RoundTrip(t.Context(), addr, tt.req)
			if inner.calls != tt.wantCalls {
				t.Fatalf("transport asked %d times, want %d", inner.calls, tt.wantCalls)
			}
			if !errors.Is(err1, tt.err) || !errors.Is(err2, tt.err) {
				t.Fatalf("errors %v, %v; want %v", err1, err2, tt.err)
			}
			if tt.err == nil && (first != tt.resp || second != tt.resp) {
				t.Fatalf("answers %v, %v; want the transport's %v", first, second, tt.resp)
			}
		})
	}
}

func TestMetadataCacheKeysByAddressAndTopic(t *testing.T) {
	inner := &countingTransport{resp: metadataOf("t", 0, 6)}
	c := newMetadataCache(inner, time.Hour, time.Now)
	for _, addr := range []net.Addr{kafka.TCP("127.0.0.1:1"), kafka.TCP("127.0.0.1:2"), kafka.TCP("127.0.0.1:1")} {
		if _, err := c.RoundTrip(t.Context(), addr, &metadataAPI.Request{TopicNames: []string{"t"}}); err != nil {
			t.Fatal(err)
		}
	}
	if inner.calls != 2 {
		t.Fatalf("transport asked %d times for two addresses, want 2", inner.calls)
	}
}

func TestParseCompression(t *testing.T) {
	tests := []struct {
		name    string
		want    kafka.Compression
		wantErr bool
	}{
		{"", kafka.Zstd, false},
		{"zstd", kafka.Zstd, false},
		{"none", 0, false},
		{"gzip", kafka.Gzip, false},
		{"snappy", kafka.Snappy, false},
		{"lz4", kafka.Lz4, false},
		{"ZSTD", 0, true},
		{"brotli", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseCompression(tt.name)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("ParseCompression(%q) = %v, %v; want %v (error %t)", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}
