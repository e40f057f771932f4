package handler_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jobplane/jobplane/pkg/handler"
)

func TestExprHandler(t *testing.T) {
	t.Parallel()
	got, err := handler.Expr(context.Background(), handler.Request{Input: "34 * 2 + 1"})
	if err != nil || got != "69" {
		t.Fatalf("Expr = %q, %v", got, err)
	}
	_, err = handler.Expr(context.Background(), handler.Request{Input: "1 + 2 + 3 - 7 * 2 +"})
	if !handler.IsPermanent(err) {
		t.Fatalf("malformed expression error %v is not permanent", err)
	}
}

func TestPermanent(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	p := handler.Permanent(base)
	if !handler.IsPermanent(p) || !errors.Is(p, base) || p.Error() != "boom" {
		t.Fatalf("Permanent(%v) = %v", base, p)
	}
	if handler.IsPermanent(base) || handler.Permanent(nil) != nil {
		t.Fatal("plain errors must be transient")
	}
}

func TestEncryptRoundTrip(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	r, err := handler.Builtins(key)
	if err != nil {
		t.Fatal(err)
	}
	enc, ok := r.Lookup("encrypt")
	if !ok {
		t.Fatalf("types = %v", r.Types())
	}
	req := handler.Request{OperationID: "op-1", Input: "attack at dawn"}
	ct, err := enc(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := handler.Decrypt(key, "op-1", ct)
	if err != nil || plain != req.Input {
		t.Fatalf("Decrypt = %q, %v", plain, err)
	}
	if _, err := handler.Decrypt(key, "op-2", ct); err == nil {
		t.Fatal("ciphertext must be bound to its operation id")
	}
	if _, err := handler.NewEncrypt([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func BenchmarkExprHandler(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	req := handler.Request{Input: "0 * 3 + 4 - 1 + 5 * 39"}
	for b.Loop() {
		if _, err := handler.Expr(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
