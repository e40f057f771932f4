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
func parseStateFilter(filter, enumPrefix string, names map[string]int32) ([]int32, error) {
	filter = strings.TrimSpace(filter)
	if filter == "" {
		return nil, nil
	}
	var out []int32
	for _, term := range strings.Split(filter, " OR ") {
		field, value, ok := strings.Cut(term, "=")
		if !ok || strings.TrimSpace(field) != "state" {
			return nil, fmt.Errorf("unsupported filter %q: use state=<STATE>, optionally joined with OR", term)
		}
		v := strings.ToUpper(strings.Trim(strings.TrimSpace(value), `"'`))
		v = strings.TrimPrefix(v, enumPrefix)
		n, ok := names[enumPrefix+v]
		if !ok || n == 0 {
			return nil, fmt.Errorf("unknown state %q", strings.TrimSpace(value))
		}
		out = append(out, n)
	}
	return out, nil
}

func jobStatesFilter(filter string) ([]store.JobState, error) {
	vals, err := parseStateFilter(filter, "JOB_STATE_", jobsv1.JobState_value)
	if err != nil {
		return nil, err
	}
	var out []store.JobState
	for _, v := range vals {
		out = append(out, jobStateFromProto(jobsv1.JobState(v)))
	}
	return out, nil
}

func opStatesFilter(filter string) ([]store.OpState, error) {
	vals, err := parseStateFilter(filter, "OPERATION_STATE_", jobsv1.OperationState_value)
	if err != nil {
		return nil, err
	}
	var out []store.OpState
	for _, v := range vals {
		out = append(out, opStateFromProto(jobsv1.OperationState(v)))
	}
	return out, nil
}
