package nodes

import "testing"

func TestParseReady(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		want int
		ok   bool
	}{
		{ReadyText(0), 0, true},
		{ReadyText(30), 30, true},
		{ReadyText(60), 60, true},
		{"starting or stopping\n", 0, false},
		{"ready, -1 partitions assigned\n", 0, false},
		{"ready, x partitions assigned\n", 0, false},
		{"", 0, false},
	} {
		got, ok := ParseReady(tc.body)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseReady(%q) = %d, %v; want %d, %v", tc.body, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParseReady: any body parses without a panic, and what parses is
// printed back the same.
func FuzzParseReady(f *testing.F) {
	f.Add(ReadyText(60))
	f.Add("starting or stopping\n")
	f.Fuzz(func(t *testing.T, body string) {
		n, ok := ParseReady(body)
		if !ok {
			return
		}
		if n < 0 {
			t.Fatalf("ParseReady(%q) = %d", body, n)
		}
		if again, ok := ParseReady(ReadyText(n)); !ok || again != n {
			t.Fatalf("round trip of %d: %d, %v", n, again, ok)
		}
	})
}
