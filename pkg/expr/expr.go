// Package expr evaluates the arithmetic expressions of the `expr` operation
// type.
//
// # Language
//
// An expression is made of decimal number literals, the binary operators
// + - * / %, unary - and +, and parentheses, with the usual precedence
// (* / % bind tighter than + -, unary operators bind tightest, binary
// operators are left-associative). Whitespace (any Unicode space) is ignored.
// Everything else — identifiers, function calls, strings, booleans,
// comparisons, comments, ** and ^ — is rejected with an error that says what
// is not supported.
//
// Literals:
//   - 42, 007 (leading zeros are decimal, never octal) are int64 literals;
//     a literal that does not fit in int64 is an integer overflow error.
//     -9223372036854775808 is therefore rejected (the minus is an operator
//     applied to 9223372036854775808); write -9223372036854775807 - 1.
//   - 2.5, .5, 5., 1e3, 2.5E-3 are float64 literals (a literal with an
//     exponent is always a float, so 1e3 evaluates to the float 1000 and
//     prints as 1000).
//   - hexadecimal, octal and binary literals (0x1F, 0o17, 0b101) and digit
//     separators (1_000) are rejected.
//
// # Semantics
//
// Integer operands give integer results computed in int64; any float operand
// makes the operation float64. Integer division truncates toward zero
// (3 / 4 = 0, -7 / 2 = -3) and % is Go's remainder (its sign follows the
// dividend). % with a float operand is math.Mod (also signed like the
// dividend: -7.5 % 2 = -1.5). Division or remainder by zero (integer or
// float) is an error, as is any integer overflow (including -(-9223372036854775807 - 1)
// and (-9223372036854775807 - 1) / -1) and any float result that is infinite or NaN.
//
// Results are formatted as strings: integers in decimal, floats with the
// shortest representation that parses back to the same float64, without an
// exponent when 1e-6 <= |x| < 1e21 (like JavaScript and encoding/json), so
// 1.5 * 2 prints 3 and 10 / 4.0 prints 2.5; negative zero prints as 0.
//
// # Errors
//
// Every error returned by Eval is a *Error that matches ErrInvalid with
// errors.Is: the expression itself is at fault, so evaluating it again can
// never succeed. The error also matches one of ErrSyntax, ErrUnsupported,
// ErrDivisionByZero, ErrOverflow or ErrTooComplex. Its message is a single
// line meant for the person who wrote the expression.
//
// # Implementation
//
// Parsing is done by github.com/expr-lang/expr's parser; this package walks
// the resulting AST itself with the typed int64/float64 rules above. The
// expr-lang language is much larger than ours and a few of its features would
// silently change the meaning of an arithmetic expression, so every input is
// first checked by a small scanner (see scan.go) that accepts only the tokens
// above. Notable reasons:
//   - "//" and "/*" start comments in expr-lang: 7 // 2 would evaluate to 7.
//   - ** and ^ are exponentiation; .. is a range; ; sequences expressions.
//   - 1_000, 0x1F, 0o17, 0b101 are integer literals in expr-lang.
//   - expr-lang's parser reports literal errors at the token after the
//     literal and with strconv's wording; the scanner reports them itself.
//
// A parser.Parser is not reused between calls: in v1.17.8 its lexer's Reset
// keeps the previous input's read position and the node counter is never
// reset, so a reused parser mis-parses the next input (after parsing "1 + 2",
// "34 * 2 + 1" parses as "2 + 1").
package expr

import (
	"errors"
	"fmt"

	"github.com/expr-lang/expr/parser"
)

// Limits on the input. Inputs beyond them are rejected with ErrTooComplex
// before anything is evaluated.
const (
	// MaxLength is the largest accepted input, in bytes.
	MaxLength = 4096
	// MaxDepth is the deepest accepted nesting. It bounds both the nesting
	// of parentheses and the depth of the evaluated tree, where each unary
	// operator and each right operand adds a level (- - - 1 and
	// 1 - (2 - (3 - 4)) are 3 levels deep; a left-associative chain such as
	// 1 + 2 + 3 + 4 stays at 1).
	MaxDepth = 100
	// MaxTerms is the largest accepted number of numbers and operators.
	MaxTerms = 1024
)

// Sentinel errors. Every error returned by Eval matches ErrInvalid and
// exactly one of the others.
var (
	// ErrInvalid matches every error returned by Eval: the caller's
	// expression is at fault and retrying it cannot succeed.
	ErrInvalid = errors.New("invalid expression")

	// ErrSyntax: the input is not a well-formed expression.
	ErrSyntax = errors.New("syntax error")
	// ErrUnsupported: the input uses a feature outside the arithmetic
	// language (identifiers, calls, strings, comparisons, ...).
	ErrUnsupported = errors.New("unsupported expression")
	// ErrDivisionByZero: a / or % has a zero divisor.
	ErrDivisionByZero = errors.New("division by zero")
	// ErrOverflow: an integer result or literal does not fit in int64, or a
	// float result or literal is infinite or NaN.
	ErrOverflow = errors.New("arithmetic overflow")
	// ErrTooComplex: the input exceeds MaxLength, MaxDepth or MaxTerms.
	ErrTooComplex = errors.New("expression too complex")
)

// Error is the error returned by Eval.
type Error struct {
	// Kind is ErrSyntax, ErrUnsupported, ErrDivisionByZero, ErrOverflow or
	// ErrTooComplex.
	Kind error
	// Offset is the byte offset in the input of the offending token, or -1
	// when the error is not tied to one place.
	Offset int
	// Msg is the one-line, user-facing message returned by Error.
	Msg string
}

// Error returns the user-facing message.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns e.Kind.
func (e *Error) Unwrap() error { return e.Kind }

// Is reports whether target is ErrInvalid, which every *Error matches.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Eval evaluates one arithmetic expression and returns its result formatted as a string.
//
// A non-nil error is always a *Error matching ErrInvalid.
func Eval(src string) (res string, err error) {
	defer func() {
		// The scanner guarantees the parser only sees tokens it handles, so
		// this is a last line of defence: a panic on a given input is
		// deterministic, hence still the input's fault.
		if r := recover(); r != nil {
			res, err = "", &Error{Kind: ErrSyntax, Offset: -1, Msg: "syntax error: the expression could not be parsed"}
		}
	}()

	if len(src) > MaxLength {
		return "", &Error{
			Kind:   ErrTooComplex,
			Offset: -1,
			Msg:    fmt.Sprintf("expression is too long: %d bytes (limit %d)", len(src), MaxLength),
		}
	}
	info, serr := scan(src)
	if serr != nil {
		return "", serr
	}
	tree, perr := parser.Parse(src)
	if perr != nil {
		return "", syntaxError(src, info, perr)
	}
	v, verr := (&evaluator{src: src, ascii: info.ascii}).eval(tree.Node, 0)
	if verr != nil {
		return "", verr
	}
	return v.String(), nil
}
