package expr_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jobplane/jobplane/pkg/expr"
)

// FuzzEval checks that Eval never panics, returns exactly one of a result or
// a *Error matching ErrInvalid with a one-line message, that integer-only
// inputs give int64 results, and that integer-only inputs agree with an
// independent oracle: Go's own expression parser (same operators, same
// precedence) evaluated exactly with math/big.
func FuzzEval(f *testing.F) {
	for _, tt := range seedTable {
		f.Add(tt.src)
	}
	// Every line of the request bodies in deploy/examples.
	paths, err := filepath.Glob(filepath.Join("..", "..", "deploy", "examples", "*.txt"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no deploy/examples/*.txt: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			f.Add(strings.TrimSuffix(line, "\r"))
		}
	}
	for _, s := range []string{
		"1 + 2 + 3 - 7 * 2 +", "", "(1", "1 2", "()", "-7 / 2", "-7 % 2", "10 / 4.0",
		"1.5 * 2", "1e3", ".5", "5.", "0.1 + 0.2", "9223372036854775807 + 1",
		"-9223372036854775807 - 1", "(-9223372036854775807 - 1) / -1", "1 / 0", "1 % 0.0",
		"1e308 * 10", "x + 1", "abs(1)", "1 // 2", "2 ** 3", "0x10", "1_000", "1..2",
		"--3", "-(2 + 3) * 4 % 5", "((((1))))", "1 ? 2 : 3", "\"s\"", "1 +\n 2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		got, err := expr.Eval(src)
		if err != nil {
			if got != "" {
				t.Fatalf("Eval(%q) = %q and error %v", src, got, err)
			}
			var e *expr.Error
			if !errors.As(err, &e) || !errors.Is(err, expr.ErrInvalid) {
				t.Fatalf("Eval(%q) error %v (%T) is not a *expr.Error matching ErrInvalid", src, err, err)
			}
			if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("Eval(%q) error message %q is empty or not one line", src, msg)
			}
		} else {
			if got == "" {
				t.Fatalf("Eval(%q) returned neither a result nor an error", src)
			}
			if !strings.ContainsAny(src, ".eE") {
				if _, perr := strconv.ParseInt(got, 10, 64); perr != nil {
					t.Fatalf("Eval(%q) = %q, integer input but not an int64 result", src, got)
				}
			} else if f, perr := strconv.ParseFloat(got, 64); perr != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				t.Fatalf("Eval(%q) = %q, not a finite number", src, got)
			}
		}
		checkOracle(t, src, got, err)
	})
}

// checkOracle compares Eval's answer on integer-only inputs with Go's parser
// plus exact big.Int arithmetic, when Go parses src as such an expression.
func checkOracle(t *testing.T, src, got string, err error) {
	t.Helper()
	if errors.Is(err, expr.ErrTooComplex) || len(src) > expr.MaxLength {
		return
	}
	// Go accepts comments and ';', which are rejected here by design.
	if strings.Contains(src, "//") || strings.Contains(src, "/*") || strings.Contains(src, ";") {
		return
	}
	node, perr := parser.ParseExpr(src)
	if perr != nil {
		return
	}
	want, kind, ok := oracle(node)
	if !ok {
		return // not an integer-only arithmetic expression in Go's reading
	}
	// Literals are checked before anything is evaluated.
	ast.Inspect(node, func(n ast.Node) bool {
		if lit, isLit := n.(*ast.BasicLit); isLit {
			if v, _ := new(big.Int).SetString(lit.Value, 10); v != nil && !v.IsInt64() {
				kind = expr.ErrOverflow
			}
		}
		return true
	})
	switch {
	case kind == nil && (err != nil || got != want.String()):
		t.Fatalf("Eval(%q) = %q, %v; oracle says %s", src, got, err, want)
	case kind != nil && !errors.Is(err, kind):
		t.Fatalf("Eval(%q) = %q, %v; oracle says error %v", src, got, err, kind)
	}
}

var (
	minInt64 = big.NewInt(math.MinInt64)
	maxInt64 = big.NewInt(math.MaxInt64)
)

// oracle evaluates a Go expression made only of decimal integer literals
// without leading zeros (Go reads 010 as octal), unary + -, binary + - * / %
// and parentheses. ok is false for anything else. kind is the error Eval must
// return, or nil.
func oracle(n ast.Expr) (v *big.Int, kind error, ok bool) {
	switch n := n.(type) {
	case *ast.ParenExpr:
		return oracle(n.X)
	case *ast.BasicLit:
		if n.Kind != token.INT || len(n.Value) > 1 && n.Value[0] == '0' || strings.Contains(n.Value, "_") {
			return nil, nil, false
		}
		v, ok := new(big.Int).SetString(n.Value, 10)
		if !ok {
			return nil, nil, false
		}
		if !v.IsInt64() {
			return nil, expr.ErrOverflow, true
		}
		return v, nil, true
	case *ast.UnaryExpr:
		if n.Op != token.ADD && n.Op != token.SUB {
			return nil, nil, false
		}
		x, kind, ok := oracle(n.X)
		if !ok || kind != nil {
			return nil, kind, ok
		}
		if n.Op == token.SUB {
			x = new(big.Int).Neg(x)
		}
		return checkRange(x)
	case *ast.BinaryExpr:
		switch n.Op {
		case token.ADD, token.SUB, token.MUL, token.QUO, token.REM:
		default:
			return nil, nil, false
		}
		x, kx, okx := oracle(n.X)
		y, ky, oky := oracle(n.Y)
		if !okx || !oky {
			return nil, nil, false
		}
		// Eval evaluates left to right and stops at the first error.
		if kx != nil {
			return nil, kx, true
		}
		if ky != nil {
			return nil, ky, true
		}
		r := new(big.Int)
		switch n.Op {
		case token.ADD:
			r.Add(x, y)
		case token.SUB:
			r.Sub(x, y)
		case token.MUL:
			r.Mul(x, y)
		case token.QUO, token.REM:
			if y.Sign() == 0 {
				return nil, expr.ErrDivisionByZero, true
			}
			if n.Op == token.QUO {
				r.Quo(x, y) // truncated, like Go's int64 division
			} else {
				r.Rem(x, y)
			}
		}
		return checkRange(r)
	}
	return nil, nil, false
}

func checkRange(v *big.Int) (*big.Int, error, bool) {
	if v.Cmp(minInt64) < 0 || v.Cmp(maxInt64) > 0 {
		return nil, expr.ErrOverflow, true
	}
	return v, nil, true
}
