package client

import (
	"slices"
	"strings"
	"testing"

	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
)

func TestParseTextPlain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"empty", "", nil},
		{"only newline", "\n", nil},
		{"only CRLF", "\r\n", nil},
		{"one line", "69", []string{"69"}},
		{"final newline", "69\n1 + 2\n", []string{"69", "1 + 2"}},
		{"CRLF", "69\r\n1 + 2\r\n", []string{"69", "1 + 2"}},
		{"blank line kept for validation", "1\n\n2\n", []string{"1", "", "2"}},
		{"two final newlines keep one blank line", "1\n\n", []string{"1", ""}},
		{"whitespace preserved", "  3 * 4 \n", []string{"  3 * 4 "}},
		{"lone CRs are content", "\r\r", []string{"\r\r"}},
		{"CR inside a line", "a\rb\n", []string{"a\rb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ParseTextPlain(tt.body)
			if len(got) != len(tt.want) {
				t.Fatalf("ParseTextPlain(%q) = %d ops %v, want %v", tt.body, len(got), got, tt.want)
			}
			for i := range got {
				if got[i].Request != tt.want[i] {
					t.Errorf("op %d = %q, want %q", i, got[i].Request, tt.want[i])
				}
			}
		})
	}
}

// FuzzParseTextPlain checks ParseTextPlain against the documented rules:
// no operation contains a newline, joining the operations with LF gives the
// body without its final line ending and with CRLF turned into LF, the
// number of operations is the number of lines (textPlainLines, written
// independently), and only an empty body (or a lone line ending) has none.
func FuzzParseTextPlain(f *testing.F) {
	for _, b := range exampleBodies(f) {
		f.Add(string(b))
		f.Add(strings.ReplaceAll(string(b), "\n", "\r\n"))
	}
	for _, s := range []string{"", "\n", "\r\n", "69\n1 + 2 + 3 - 7 * 2\n", "1\r\n\r\n2", "\r", "\r\r", "a\nb\rc\n", "1\n\n", "\n\n", "1\r\r\n", "\xff\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		ops := ParseTextPlain(body)
		if lines := textPlainLines(body); len(lines) != len(ops) {
			t.Fatalf("ParseTextPlain(%q) = %d operations, want %d lines", body, len(ops), len(lines))
		}
		// Re-joining with LF gives back the body without its final line
		// ending and without the CR of each CRLF.
		trimmed := body
		if strings.HasSuffix(trimmed, "\n") {
			trimmed = strings.TrimSuffix(strings.TrimSuffix(trimmed, "\n"), "\r")
		}
		want := strings.ReplaceAll(trimmed, "\r\n", "\n")
		joined := make([]string, len(ops))
		for i, op := range ops {
			if strings.Contains(op.Request, "\n") {
				t.Fatalf("operation %d contains a newline: %q", i, op.Request)
			}
			joined[i] = op.Request
		}
		if strings.Join(joined, "\n") != want {
			t.Fatalf("ParseTextPlain(%q) = %q, want lines of %q", body, joined, want)
		}
		if (body == "" || body == "\n" || body == "\r\n") != (len(ops) == 0) {
			t.Fatalf("ParseTextPlain(%q) = %d operations", body, len(ops))
		}
	})
}

func TestParseStateFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter string
		want   int
		ok     bool
	}{
		{"", 0, true},
		{"state=SUCCEEDED", 1, true},
		{"state = JOB_STATE_FAILED", 1, true},
		{`state="running"`, 1, true},
		{"state=FAILED OR state=CANCELLED", 2, true},
		{"state=UNSPECIFIED", 0, false},
		{"state=NOPE", 0, false},
		{"color=red", 0, false},
		{"state", 0, false},
		{"state=FAILED AND state=CANCELLED", 0, false},
	}
	for _, tt := range tests {
		got, err := jobStatesFilter(tt.filter)
		if (err == nil) != tt.ok || len(got) != tt.want {
			t.Errorf("jobStatesFilter(%q) = %v, %v", tt.filter, got, err)
		}
	}
	ops, err := opStatesFilter("state=CANCELLED")
	if err != nil || len(ops) != 1 || ops[0] != "cancelled" {
		t.Errorf("opStatesFilter = %v, %v", ops, err)
	}
}

// FuzzStateFilter checks both state filters: an accepted filter yields one
// known store state per OR term, and the canonical filter built from the
// result (state=NAME OR …) is accepted and yields the same states.
func FuzzStateFilter(f *testing.F) {
	for _, s := range []string{
		"", "  ", "state=SUCCEEDED", "state = FAILED OR state=RUNNING", "state=JOB_STATE_PENDING", `state="cancelled"`,
		"state='Succeeded' OR state=JOB_STATE_FAILED OR state = running", "state=OPERATION_STATE_FAILED",
		"state=UNSPECIFIED", "state=JOB_STATE_UNSPECIFIED", "x=y", "=", " OR ", "state=FAILED AND state=RUNNING",
		"state=FAILED OR", "state==FAILED", "state=FAILED OR  state=RUNNING", "STATE=FAILED",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		checkStateFilter(t, filter, jobStatesFilter, jobStates)
		checkStateFilter(t, filter, opStatesFilter, opStates)
	})
}

func checkStateFilter[S ~string, E ~int32](t *testing.T, filter string, parse func(string) ([]S, error), known map[S]E) {
	t.Helper()
	states, err := parse(filter)
	if err != nil {
		if states != nil {
			t.Fatalf("filter %q: states %v and error %v", filter, states, err)
		}
		return
	}
	if strings.TrimSpace(filter) == "" {
		if states != nil {
			t.Fatalf("empty filter %q gave states %v", filter, states)
		}
		return
	}
	if want := len(strings.Split(strings.TrimSpace(filter), " OR ")); len(states) != want {
		t.Fatalf("filter %q: %d states for %d terms", filter, len(states), want)
	}
	terms := make([]string, len(states))
	for i, s := range states {
		if e, ok := known[s]; !ok || e == 0 {
			t.Fatalf("filter %q accepted unknown state %q", filter, s)
		}
		terms[i] = "state=" + strings.ToUpper(string(s))
	}
	again, err := parse(strings.Join(terms, " OR "))
	if err != nil || !slices.Equal(again, states) {
		t.Fatalf("canonical form of %q = %v, %v; want %v", filter, again, err, states)
	}
}

// Every enum state maps to a store state that the store's mappings know, so
// the filter's lower-case convention cannot drift from the store.
func TestStateFilterCoversEveryState(t *testing.T) {
	t.Parallel()
	for name, n := range jobsv1.JobState_value {
		if n == 0 {
			continue
		}
		got, err := jobStatesFilter("state=" + name)
		if err != nil || len(got) != 1 || jobStates[got[0]] != jobsv1.JobState(n) {
			t.Errorf("%s -> %v, %v", name, got, err)
		}
	}
	for name, n := range jobsv1.OperationState_value {
		if n == 0 {
			continue
		}
		got, err := opStatesFilter("state=" + name)
		if err != nil || len(got) != 1 || opStates[got[0]] != jobsv1.OperationState(n) {
			t.Errorf("%s -> %v, %v", name, got, err)
		}
	}
}
