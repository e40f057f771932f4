package nodes

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jobplane/jobplane/pkg/env"
)

// Settings are the membership settings both services read.
type Settings struct {
	// Advertise is the host (or host:port) other nodes dial to reach this
	// node's gRPC port (GRPC_ADVERTISE_ADDR). Without a port, the port the
	// gRPC listener got is added. Empty: the listener's host, or the host
	// name when it listens on every interface.
	Advertise string
	// Interval between heartbeats (NODE_HEARTBEAT_INTERVAL, default 5s).
	Interval time.Duration
	// TTL after which a node without a heartbeat is down (NODE_TTL,
	// default 15s; at least twice the interval).
	TTL time.Duration
}

// SettingsFromEnv reads the settings; parse errors are collected in r.
func SettingsFromEnv(r *env.Reader) Settings {
	return Settings{
		Advertise: r.String("GRPC_ADVERTISE_ADDR", ""),
		Interval:  r.Duration("NODE_HEARTBEAT_INTERVAL", 5*time.Second),
		TTL:       r.Duration("NODE_TTL", 15*time.Second),
	}
}

// Validate returns an error naming every bad variable.
func (s *Settings) Validate() error {
	var errs []error
	if s.Interval <= 0 {
		errs = append(errs, fmt.Errorf("NODE_HEARTBEAT_INTERVAL=%s: want > 0", s.Interval))
	}
	if s.TTL < 2*s.Interval {
		errs = append(errs, fmt.Errorf("NODE_TTL=%s: want at least twice NODE_HEARTBEAT_INTERVAL (%s)", s.TTL, s.Interval))
	}
	return errors.Join(errs...)
}

// AdvertiseAddr returns the address to register for a gRPC listener.
func (s *Settings) AdvertiseAddr(lis net.Addr) string {
	port := ""
	host := ""
	if tcp, ok := lis.(*net.TCPAddr); ok {
		port = strconv.Itoa(tcp.Port)
		if !tcp.IP.IsUnspecified() {
			host = tcp.IP.String()
		}
	}
	if s.Advertise != "" {
		if _, _, err := net.SplitHostPort(s.Advertise); err == nil {
			return s.Advertise
		}
		return net.JoinHostPort(s.Advertise, port)
	}
	if host == "" {
		host = env.Hostname()
	}
	return net.JoinHostPort(host, port)
}
