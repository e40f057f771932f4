// Command healthcheck is the probe of the container image: distroless has no
// shell, curl or wget, so docker-compose.yml's health checks run
//
//	healthcheck http://127.0.0.1:8080/readyz
//
// which exits 0 when the URL answers 2xx within -timeout and 1 otherwise.
// For an https URL (a service with TLS_CERT/TLS_KEY) it presents that
// certificate as its client certificate, for mutual TLS, and skips the
// server's verification: it only ever dials the loopback address of its own
// container.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	timeout := flag.Duration("timeout", 3*time.Second, "give up after")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: healthcheck [-timeout 3s] URL")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := check(flag.Arg(0), *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

func check(url string, timeout time.Duration) error {
	tlsCfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} // #nosec G402 -- loopback probe of its own container
	if cert, key := os.Getenv("TLS_CERT"), os.Getenv("TLS_KEY"); cert != "" && key != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return fmt.Errorf("TLS_CERT/TLS_KEY: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{pair}
	}
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
	}
	return nil
}
