package store

import (
	"strings"
	"testing"
)

func TestOpsPerDoc(t *testing.T) {
	t.Parallel()
	ops := func(sizes ...int) []OpInput {
		var out []OpInput
		for _, n := range sizes {
			out = append(out, OpInput{Type: "expr", Request: strings.Repeat("1", n)})
		}
		return out
	}
	tests := []struct {
		name string
		ops  []OpInput
		want int64
	}{
		{"small requests: the maximum", ops(5, 10, 20), opsPerDocMax},
		{"empty job", nil, opsPerDocMax},
		{"the largest request decides", ops(5, 64<<10-4, 10), 4},
		{"a request over the budget: one per document", ops(opDocBytes + 1), 1},
		{"exactly the budget", ops(opDocBytes - 4), 1},
	}
	for _, tt := range tests {
		if got := opsPerDocFor(tt.ops); got != tt.want {
			t.Errorf("%s: opsPerDocFor = %d, want %d", tt.name, got, tt.want)
		}
	}
}
