package pagetoken_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

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

// Page tokens as ListJobs and ListJobOperations build them, for the seeds.
var (
	seedJobsQuery = pagetoken.QueryHash("jobs", "state=FAILED")
	seedOpsQuery  = pagetoken.QueryHash("operations", "0190f8a2-1234-7abc-8def-0123456789ab", "")
	seedTokens    = []pagetoken.Token{
		{After: "0190f8a2-1234-7abc-8def-0123456789ab", Query: seedJobsQuery},
		{Index: 30, Query: seedOpsQuery},
		{Index: 1<<63 - 1, Query: seedOpsQuery},
		{Query: seedJobsQuery},
		{After: "\u2028\"<>&", Query: seedJobsQuery},
	}
)

// FuzzDecode decodes arbitrary strings: every error is ErrInvalid, an
// accepted token belongs to the query and has a non-negative index, the same
// string is refused for any other query, and re-encoding it decodes to the
// same token.
func FuzzDecode(f *testing.F) {
	for _, tok := range seedTokens {
		f.Add(pagetoken.Encode(tok), tok.Query)
		f.Add(pagetoken.Encode(tok), seedJobsQuery) // ops tokens: another query
	}
	q := pagetoken.QueryHash("jobs", "")
	f.Add(pagetoken.Encode(pagetoken.Token{After: "abc", Query: q}), q)
	f.Add(pagetoken.Encode(pagetoken.Token{Index: 7, Query: q}), q)
	f.Add(pagetoken.Encode(pagetoken.Token{Index: -1, Query: q}), q)
	f.Add("", q)
	f.Add("e30", "")
	f.Add("eyJxIjoiIn0", "") // {"q":""}
	f.Add("eyJhIjoieCIsImEiOiJ5IiwicSI6IiJ9", "")
	f.Add("e30=", "")
	f.Add(strings.Repeat("A", 513), q)
	f.Fuzz(func(t *testing.T, s, q string) {
		tok, err := pagetoken.Decode(s, q)
		if err != nil {
			if !errors.Is(err, pagetoken.ErrInvalid) || tok != (pagetoken.Token{}) {
				t.Fatalf("Decode(%q) = %+v, %v: want the zero token and ErrInvalid", s, tok, err)
			}
			return
		}
		if tok.Query != q || tok.Index < 0 {
			t.Fatalf("accepted bad token %+v", tok)
		}
		if _, err := pagetoken.Decode(s, q+"x"); !errors.Is(err, pagetoken.ErrInvalid) {
			t.Fatalf("token %q for query %q accepted for query %q", s, q, q+"x")
		}
		again, err := pagetoken.Decode(pagetoken.Encode(tok), q)
		if err != nil || again != tok {
			t.Fatalf("re-encode of %+v = %+v, %v", tok, again, err)
		}
	})
}

// FuzzRoundTrip encodes arbitrary tokens: Decode(Encode(t), t.Query) == t
// for every token a List method can produce (non-negative index, valid UTF-8
// key, encoded within the length limit), and the token is opaque in URLs
// (only base64url characters).
func FuzzRoundTrip(f *testing.F) {
	for _, tok := range seedTokens {
		f.Add(tok.After, tok.Index, tok.Query)
	}
	f.Add("\xff", int64(0), "q")
	f.Add("", int64(-1), "q")
	f.Add(strings.Repeat("x", 400), int64(0), "q")
	f.Fuzz(func(t *testing.T, after string, index int64, query string) {
		tok := pagetoken.Token{After: after, Index: index, Query: query}
		s := pagetoken.Encode(tok)
		if strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("Encode(%+v) = %q: not base64url", tok, s)
		}
		got, err := pagetoken.Decode(s, query)
		switch {
		case index < 0 || len(s) > 512:
			if !errors.Is(err, pagetoken.ErrInvalid) {
				t.Fatalf("Decode(Encode(%+v)) = %+v, %v: want ErrInvalid", tok, got, err)
			}
		case !utf8.ValidString(after) || !utf8.ValidString(query):
			// encoding/json replaces invalid UTF-8 with U+FFFD: such a token
			// cannot come back for the same query. Ids are ASCII.
		case err != nil || got != tok:
			t.Fatalf("Decode(Encode(%+v)) = %+v, %v", tok, got, err)
		}
	})
}
