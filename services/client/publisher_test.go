package client

import (
	"testing"

	"github.com/jobplane/jobplane/pkg/store"
)

func TestRoute(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		job  store.Job
		want string
	}{
		{"small job: its operations share the job's partition", store.Job{ID: "j1", Total: 10}, "j1"},
		{"largest local job", store.Job{ID: "j2", Total: localJobMax}, "j2"},
		{"large job: spread by operation id", store.Job{ID: "j3", Total: localJobMax + 1}, ""},
		{"partition key: the key decides", store.Job{ID: "j4", Total: 3, PartitionKey: "acct-7"}, ""},
	} {
		if got := string(route(&tc.job)); got != tc.want {
			t.Errorf("%s: route = %q, want %q", tc.name, got, tc.want)
		}
	}
}
