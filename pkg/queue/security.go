package queue

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jobplane/jobplane/pkg/env"
	"github.com/jobplane/jobplane/pkg/tlsconfig"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// SASL mechanisms of KAFKA_SASL_MECHANISM.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Security is how the services authenticate to Kafka and protect the
// connection. The zero value is plaintext without authentication.
type Security struct {
	TLS     bool   // KAFKA_TLS: connect with TLS (1.2 or later)
	TLSCA   string // KAFKA_TLS_CA: PEM CA certificates to verify the brokers; default the system roots
	TLSCert string // KAFKA_TLS_CERT: PEM client certificate, for brokers that require one (with KAFKA_TLS_KEY)
	TLSKey  string // KAFKA_TLS_KEY

	SASLMechanism string // KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty = no SASL
	SASLUsername  string // KAFKA_SASL_USERNAME
	// SASLPassword (KAFKA_SASL_PASSWORD) is never logged nor put in errors.
	SASLPassword string
}

// SecurityFromEnv reads the KAFKA_TLS* and KAFKA_SASL_* variables.
func SecurityFromEnv(r *env.Reader) Security {
	return Security{
		TLS:           r.Bool("KAFKA_TLS", false),
		TLSCA:         r.String("KAFKA_TLS_CA", ""),
		TLSCert:       r.String("KAFKA_TLS_CERT", ""),
		TLSKey:        r.String("KAFKA_TLS_KEY", ""),
		SASLMechanism: strings.ToUpper(r.String("KAFKA_SASL_MECHANISM", "")),
		SASLUsername:  r.String("KAFKA_SASL_USERNAME", ""),
		SASLPassword:  r.String("KAFKA_SASL_PASSWORD", ""),
	}
}

// Validate returns an error naming every bad variable. It does not read the
// certificate files (Conn does).
func (s *Security) Validate() error {
	var errs []error
	if !s.TLS {
		for name, v := range map[string]string{"KAFKA_TLS_CA": s.TLSCA, "KAFKA_TLS_CERT": s.TLSCert, "KAFKA_TLS_KEY": s.TLSKey} {
			if v != "" {
				errs = append(errs, fmt.Errorf("%s: set, but KAFKA_TLS is not true", name))
			}
		}
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		errs = append(errs, errors.New("KAFKA_TLS_CERT and KAFKA_TLS_KEY: set both or neither"))
	}
	switch s.SASLMechanism {
	case "":
		if s.SASLUsername != "" || s.SASLPassword != "" {
			errs = append(errs, errors.New("KAFKA_SASL_MECHANISM: required with KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)"))
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if s.SASLUsername == "" {
			errs = append(errs, fmt.Errorf("KAFKA_SASL_USERNAME: required with KAFKA_SASL_MECHANISM=%s", s.SASLMechanism))
		}
		if s.SASLPassword == "" {
			errs = append(errs, fmt.Errorf("KAFKA_SASL_PASSWORD: required with KAFKA_SASL_MECHANISM=%s", s.SASLMechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("KAFKA_SASL_MECHANISM=%q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.SASLMechanism))
	}
	return errors.Join(errs...)
}

// Conn is how a service reaches Kafka: the dialer of consumer groups and
// EnsureTopics, and the transport of writers. Both are nil when neither TLS
// nor SASL is configured (kafka-go's defaults).
type Conn struct {
	Dialer    *kafka.Dialer
	Transport *kafka.Transport
}

// Conn builds the dialer and transport, loading the certificate files.
// Errors name the variable.
func (s *Security) Conn() (Conn, error) {
	if err := s.Validate(); err != nil {
		return Conn{}, err
	}
	tc, err := s.tlsConfig()
	if err != nil {
		return Conn{}, err
	}
	mech, err := s.mechanism()
	if err != nil {
		return Conn{}, err
	}
	if tc == nil && mech == nil {
		return Conn{}, nil
	}
	return Conn{
		// As kafka.DefaultDialer, plus security.
		Dialer: &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: tc, SASLMechanism: mech},
		// kafka-go clones the TLS configuration per broker and sets its
		// ServerName to the broker's host.
		Transport: &kafka.Transport{TLS: tc, SASL: mech},
	}, nil
}

func (s *Security) tlsConfig() (*tls.Config, error) {
	if !s.TLS {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLSCA != "" {
		pool, err := tlsconfig.LoadPool(s.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("KAFKA_TLS_CA=%s: %w", s.TLSCA, err)
		}
		tc.RootCAs = pool
	}
	if s.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("KAFKA_TLS_CERT=%s, KAFKA_TLS_KEY=%s: %w", s.TLSCert, s.TLSKey, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (s *Security) mechanism() (sasl.Mechanism, error) {
	var algo scram.Algorithm
	switch s.SASLMechanism {
	case "":
		return nil, nil
	case SASLPlain:
		return plain.Mechanism{Username: s.SASLUsername, Password: s.SASLPassword}, nil
	case SASLScramSHA256:
		algo = scram.SHA256
	case SASLScramSHA512:
		algo = scram.SHA512
	}
	m, err := scram.Mechanism(algo, s.SASLUsername, s.SASLPassword)
	if err != nil {
		// SASLprep refused the username or password; the library's error
		// quotes the password, so it is not passed on.
		if _, uerr := scram.Mechanism(algo, s.SASLUsername, "password"); uerr != nil {
			return nil, fmt.Errorf("KAFKA_SASL_USERNAME=%q: not a valid SASLprep string (RFC 4013)", s.SASLUsername)
		}
		return nil, errors.New("KAFKA_SASL_PASSWORD: not a valid SASLprep string (RFC 4013)")
	}
	return m, nil
}
