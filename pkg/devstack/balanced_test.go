package devstack

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jobplane/jobplane/pkg/nodes"
)

// readyz serves a server's readiness as services/server does: 503 while
// starting, else nodes.ReadyText.
func readyz(t *testing.T, held int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if held < 0 {
			http.Error(w, "starting or stopping", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, nodes.ReadyText(held))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestBalanced(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		held       []int // per server; -1: not ready
		partitions int
		want       bool
	}{
		{"two servers, split", []int{30, 30}, 60, true},
		{"uneven split", []int{31, 29}, 60, true},
		{"first holds all, second joined", []int{60, 0}, 60, false},
		{"mid-rebalance", []int{30, 0}, 60, false},
		{"one server not ready", []int{60, -1}, 60, false},
		{"one server", []int{60}, 60, true},
		{"more servers than partitions", []int{1, 1, 0}, 2, true},
		{"no servers", nil, 60, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			children := []*child{{name: "client-0", ready: "http://127.0.0.1:1/never-read"}}
			for i, n := range tc.held {
				children = append(children, &child{name: fmt.Sprintf("server-%d", i), ready: readyz(t, n), consumes: true})
			}
			if got := balanced(http.DefaultClient, children, tc.partitions); got != tc.want {
				t.Fatalf("balanced = %v, want %v", got, tc.want)
			}
		})
	}
}
