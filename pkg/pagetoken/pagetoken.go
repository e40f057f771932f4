// Package pagetoken encodes the opaque page tokens of List methods (AIP-158).
// A token carries the position to continue from and a hash of the request
// parameters it is valid for, so that a token reused with another filter is
// rejected instead of returning a wrong page.
package pagetoken

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash/fnv"
	"strconv"
)

// ErrInvalid means the token is malformed or belongs to another query.
var ErrInvalid = errors.New("invalid page token")

// maxLen bounds the accepted encoded length.
const maxLen = 512

// Token is the decoded position.
type Token struct {
	// After is the last key returned (exclusive lower or upper bound).
	After string `json:"a,omitempty"`
	// Index is the next index to return.
	Index int64 `json:"i,omitempty"`
	// Query is the hash of the parameters the token is valid for.
	Query string `json:"q"`
}

// QueryHash identifies the parameters (parent, filter, …) of a listing.
func QueryHash(parts ...string) string {
	h := fnv.New64a()
	for _, p := range parts {
		// hash.Hash.Write never returns an error.
		_, _ = h.Write([]byte(strconv.Itoa(len(p))))
		_, _ = h.Write([]byte{':'})
		_, _ = h.Write([]byte(p))
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// Encode returns the opaque form of t.
func Encode(t Token) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode parses a token and checks it belongs to the query with hash query.
func Decode(s, query string) (Token, error) {
	var t Token
	if len(s) > maxLen {
		return t, ErrInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, ErrInvalid
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return Token{}, ErrInvalid // not the fields Unmarshal filled before failing
	}
	if t.Query != query || t.Index < 0 {
		return Token{}, ErrInvalid
	}
	return t, nil
}
