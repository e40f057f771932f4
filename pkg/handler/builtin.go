package handler

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/jobplane/jobplane/pkg/expr"
)

// Expr evaluates the request as typed arithmetic (see package expr). Every
// evaluation error is the caller's expression, hence permanent.
func Expr(_ context.Context, req Request) (string, error) {
	out, err := expr.Eval(req.Input)
	if err != nil {
		return "", Permanent(err)
	}
	return out, nil
}

// NewEncrypt returns the `encrypt` handler: AES-256-GCM over the request
// bytes with key (32 bytes); the result is base64(nonce || ciphertext).
func NewEncrypt(key []byte) (Func, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("encrypt key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("encrypt key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("encrypt key: %w", err)
	}
	return func(_ context.Context, req Request) (string, error) {
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(req.Input)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return "", fmt.Errorf("encrypt nonce: %w", err)
		}
		sealed := aead.Seal(nonce, nonce, []byte(req.Input), []byte(req.OperationID))
		return base64.StdEncoding.EncodeToString(sealed), nil
	}, nil
}

// Decrypt reverses the encrypt handler (for clients and tests).
func Decrypt(key []byte, operationID, result string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(result)
	if err != nil {
		return "", fmt.Errorf("decode ciphertext: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	if len(raw) < aead.NonceSize() {
		return "", errors.New("ciphertext too short")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(operationID))
	if err != nil {
		return "", fmt.Errorf("open ciphertext: %w", err)
	}
	return string(plain), nil
}

// Builtins returns a registry with `expr`, and `encrypt` when encryptKey is
// set.
func Builtins(encryptKey []byte) (*Registry, error) {
	r := NewRegistry()
	r.Register("expr", Expr)
	if len(encryptKey) > 0 {
		enc, err := NewEncrypt(encryptKey)
		if err != nil {
			return nil, err
		}
		r.Register("encrypt", enc)
	}
	return r, nil
}
