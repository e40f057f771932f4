package env_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/env"
)

func TestReaderRecordsNames(t *testing.T) {
	t.Parallel()
	r := env.FromMap(map[string]string{"B_INT": "7", "A_LIST": " x, ,y ", "D_BAD": "nope"})
	if got := r.Int("B_INT", 1); got != 7 {
		t.Errorf("Int = %d, want 7", got)
	}
	if got := r.List("A_LIST", nil); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("List = %q, want [x y]", got)
	}
	if got := r.String("C_UNSET", "def"); got != "def" {
		t.Errorf("String = %q, want the default", got)
	}
	if got := r.Duration("D_BAD", time.Second); got != time.Second {
		t.Errorf("Duration = %s, want the default", got)
	}
	r.Bool("B_INT", false) // read twice: listed once
	if r.Err() == nil {
		t.Error("Err = nil, want the errors of D_BAD and B_INT")
	}
	want := []string{"A_LIST", "B_INT", "C_UNSET", "D_BAD"}
	if got := r.Names(); !slices.Equal(got, want) {
		t.Errorf("Names = %q, want %q", got, want)
	}
}

func TestZeroReaderNames(t *testing.T) {
	t.Parallel()
	r := &env.Reader{Lookup: func(string) (string, bool) { return "", false }}
	if got := r.Names(); len(got) != 0 {
		t.Errorf("Names of a fresh Reader = %q, want none", got)
	}
	r.String("X", "")
	if got := r.Names(); !slices.Equal(got, []string{"X"}) {
		t.Errorf("Names = %q, want [X]", got)
	}
}
