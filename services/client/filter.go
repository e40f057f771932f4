package client

import (
	"fmt"
	"strings"

	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"github.com/jobplane/jobplane/pkg/store"
)

// parseStateFilter parses the AIP-160 subset the List methods accept:
// `state = X` terms joined by OR, X an enum value name with or without its
// prefix, case-insensitive, optionally quoted. An empty filter matches all.
// Stored states are the enum names without prefix, in lower case.
func parseStateFilter[S ~string](filter, enumPrefix string, names map[string]int32) ([]S, error) {
	filter = strings.TrimSpace(filter)
	if filter == "" {
		return nil, nil
	}
	var out []S
	for _, term := range strings.Split(filter, " OR ") {
		field, value, ok := strings.Cut(term, "=")
		if !ok || strings.TrimSpace(field) != "state" {
			return nil, fmt.Errorf("unsupported filter %q: use state=<STATE>, optionally joined with OR", term)
		}
		v := strings.ToUpper(strings.Trim(strings.TrimSpace(value), `"'`))
		v = strings.TrimPrefix(v, enumPrefix)
		if n, ok := names[enumPrefix+v]; !ok || n == 0 {
			return nil, fmt.Errorf("unknown state %q", strings.TrimSpace(value))
		}
		out = append(out, S(strings.ToLower(v)))
	}
	return out, nil
}

func jobStatesFilter(filter string) ([]store.JobState, error) {
	return parseStateFilter[store.JobState](filter, "JOB_STATE_", jobsv1.JobState_value)
}

func opStatesFilter(filter string) ([]store.OpState, error) {
	return parseStateFilter[store.OpState](filter, "OPERATION_STATE_", jobsv1.OperationState_value)
}
