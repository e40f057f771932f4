package pagetoken_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jobplane/jobplane/pkg/pagetoken"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	q := pagetoken.QueryHash("jobs", "state=FAILED")
	tests := []pagetoken.Token{
		{After: "0190f8a2-1234-7abc-8def-0123456789ab", Query: q},
		{Index: 30, Query: q},
		{Query: q},
	}
	for _, tok := range tests {
		got, err := pagetoken.Decode(pagetoken.Encode(tok), q)
		if err != nil || got != tok {
			t.Errorf("round trip of %+v = %+v, %v", tok, got, err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	q := pagetoken.QueryHash("jobs", "")
	other := pagetoken.Encode(pagetoken.Token{After: "x", Query: pagetoken.QueryHash("jobs", "state=FAILED")})
	tests := map[string]string{
		"not base64":   "!!!",
		"not json":     "bm90IGpzb24",
		"other filter": other,
		"negative":     pagetoken.Encode(pagetoken.Token{Index: -1, Query: q}),
		"too long":     strings.Repeat("A", 600),
		"empty object": "e30",
	}
	for name, s := range tests {
		if _, err := pagetoken.Decode(s, q); !errors.Is(err, pagetoken.ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestQueryHashSeparatesParts(t *testing.T) {
	t.Parallel()
	if pagetoken.QueryHash("ab", "c") == pagetoken.QueryHash("a", "bc") {
		t.Fatal("QueryHash must not be ambiguous across part boundaries")
	}
}

func FuzzDecode(f *testing.F) {
	q := pagetoken.QueryHash("jobs", "")
	f.Add(pagetoken.Encode(pagetoken.Token{After: "abc", Query: q}))
	f.Add(pagetoken.Encode(pagetoken.Token{Index: 7, Query: q}))
	f.Add("")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := pagetoken.Decode(s, q)
		if err != nil {
			if !errors.Is(err, pagetoken.ErrInvalid) {
				t.Fatalf("unexpected error type %v", err)
			}
			return
		}
		if tok.Query != q || tok.Index < 0 {
			t.Fatalf("accepted bad token %+v", tok)
		}
		again, err := pagetoken.Decode(pagetoken.Encode(tok), q)
		if err != nil || again != tok {
			t.Fatalf("re-encode of %+v = %+v, %v", tok, again, err)
		}
	})
}
