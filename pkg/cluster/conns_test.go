package cluster

import (
	"testing"

	"github.com/jobplane/jobplane/pkg/store"
)

// TestForgetGone: connections to addresses no live node has any more (a
// restarted server registers a new port) are closed, the others kept.
func TestForgetGone(t *testing.T) {
	t.Parallel()
	q := New(Config{})
	defer q.Close()
	for _, a := range []string{"127.0.0.1:1", "127.0.0.1:2"} {
		if _, err := q.conn(a); err != nil {
			t.Fatal(err)
		}
	}
	q.forgetGone([]store.Node{{ID: "server-0", Address: "127.0.0.1:2"}})
	if _, kept := q.conns["127.0.0.1:2"]; len(q.conns) != 1 || !kept {
		t.Fatalf("connections after forgetGone: %v", q.conns)
	}
}
