// Package auth checks bearer tokens on gRPC calls (the REST gateway forwards
// the Authorization header as gRPC metadata).
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Tokens is a set of accepted bearer tokens.
type Tokens struct {
	hashes [][sha256.Size]byte
}

// NewTokens returns the set of non-empty tokens.
func NewTokens(tokens []string) *Tokens {
	t := &Tokens{}
	for _, tok := range tokens {
		if tok = strings.TrimSpace(tok); tok != "" {
			t.hashes = append(t.hashes, sha256.Sum256([]byte(tok)))
		}
	}
	return t
}

// Valid reports whether token is one of the set. The comparison is constant
// time (hashes of equal length, every entry compared).
func (t *Tokens) Valid(token string) bool {
	h := sha256.Sum256([]byte(token))
	ok := 0
	for i := range t.hashes {
		ok |= subtle.ConstantTimeCompare(h[:], t.hashes[i][:])
	}
	return ok == 1 && token != ""
}

// FromContext extracts the bearer token of an incoming call.
func FromContext(ctx context.Context) (string, bool) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return "", false
	}
	for _, v := range md.Get("authorization") {
		scheme, tok, found := strings.Cut(v, " ")
		if found && strings.EqualFold(scheme, "bearer") {
			return strings.TrimSpace(tok), true
		}
	}
	return "", false
}

// Protected decides which methods need a token.
type Protected func(fullMethod string) bool

// ServicePrefix protects every method of services whose full name starts
// with prefix (e.g. "/jobplane."); health and reflection stay open.
func ServicePrefix(prefix string) Protected {
	return func(m string) bool { return strings.HasPrefix(m, prefix) }
}

func (t *Tokens) check(ctx context.Context) error {
	tok, ok := FromContext(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "missing bearer token: send the header \"Authorization: Bearer <token>\"")
	}
	if !t.Valid(tok) {
		return status.Error(codes.Unauthenticated, "invalid bearer token")
	}
	return nil
}

// UnaryInterceptor rejects calls to protected methods without a valid token.
func (t *Tokens) UnaryInterceptor(protected Protected) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if protected(info.FullMethod) {
			if err := t.check(ctx); err != nil {
				return nil, err
			}
		}
		return h(ctx, req)
	}
}

// StreamInterceptor is the streaming counterpart of UnaryInterceptor.
func (t *Tokens) StreamInterceptor(protected Protected) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if protected(info.FullMethod) {
			if err := t.check(ss.Context()); err != nil {
				return err
			}
		}
		return h(srv, ss)
	}
}
