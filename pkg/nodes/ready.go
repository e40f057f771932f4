package nodes

import "fmt"

// readyFormat is a ready server's /readyz body.
const readyFormat = "ready, %d partitions assigned\n"

// ReadyText is the /readyz body of a ready server holding partitions
// request-topic partitions.
func ReadyText(partitions int) string { return fmt.Sprintf(readyFormat, partitions) }

// ParseReady reads the partition count back from a ReadyText body (devstack
// waits on it for the servers to share the partitions).
func ParseReady(body string) (partitions int, ok bool) {
	if _, err := fmt.Sscanf(body, readyFormat, &partitions); err != nil || partitions < 0 {
		return 0, false
	}
	return partitions, true
}
