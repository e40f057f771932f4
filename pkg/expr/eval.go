package expr

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
)

// value is an int64 or a float64.
type value struct {
	i       int64
	f       float64
	isFloat bool
}

func intValue(i int64) value     { return value{i: i} }
func floatValue(f float64) value { return value{f: f, isFloat: true} }

func (v value) float() float64 {
	if v.isFloat {
		return v.f
	}
	return float64(v.i)
}

// String formats v as described in the package documentation.
func (v value) String() string {
	if !v.isFloat {
		return strconv.FormatInt(v.i, 10)
	}
	return formatFloat(v.f)
}

// formatFloat returns the shortest decimal that parses back to f, without an
// exponent when 1e-6 <= |f| < 1e21 (the rule of encoding/json and
// JavaScript). Negative zero is formatted as 0.
func formatFloat(f float64) string {
	if f == 0 {
		return "0"
	}
	format := byte('f')
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, format, -1, 64)
	if format == 'e' {
		// 1e-07 → 1e-7, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return string(b)
}

// evaluator walks an expr-lang AST that scan has restricted to the
// arithmetic language.
type evaluator struct {
	src   string
	ascii bool
}

// eval evaluates n. depth counts the nesting of unary operators and right
// operands; left operands do not nest deeper, so long chains such as
// 1 + 2 + ... + 500 are not limited by MaxDepth (they are by MaxTerms).
func (e *evaluator) eval(n ast.Node, depth int) (value, error) {
	if depth > MaxDepth {
		return value{}, &Error{
			Kind:   ErrTooComplex,
			Offset: e.offset(n),
			Msg:    "expression is nested too deeply: more than " + strconv.Itoa(MaxDepth) + " levels",
		}
	}
	switch n := n.(type) {
	case *ast.IntegerNode:
		return intValue(int64(n.Value)), nil
	case *ast.FloatNode:
		return floatValue(n.Value), nil
	case *ast.UnaryNode:
		x, err := e.eval(n.Node, depth+1)
		if err != nil {
			return value{}, err
		}
		switch n.Operator {
		case "+":
			return x, nil
		case "-":
			if x.isFloat {
				return floatValue(-x.f), nil
			}
			if x.i == math.MinInt64 {
				return value{}, e.errorf(ErrOverflow, n, "integer overflow: -(%d)", x.i)
			}
			return intValue(-x.i), nil
		}
		return value{}, e.errorf(ErrUnsupported, n, "unsupported operator %s at %s", n.Operator, e.position(n))
	case *ast.BinaryNode:
		l, err := e.eval(n.Left, depth)
		if err != nil {
			return value{}, err
		}
		r, err := e.eval(n.Right, depth+1)
		if err != nil {
			return value{}, err
		}
		if l.isFloat || r.isFloat {
			return e.floatOp(n, l.float(), r.float())
		}
		return e.intOp(n, l.i, r.i)
	case nil:
		return value{}, &Error{Kind: ErrSyntax, Offset: -1, Msg: "syntax error: empty expression"}
	}
	return value{}, e.errorf(ErrUnsupported, n, "unsupported expression at %s", e.position(n))
}

func (e *evaluator) intOp(n *ast.BinaryNode, a, b int64) (value, error) {
	switch n.Operator {
	case "+":
		r := a + b
		// Overflow iff both operands have the sign opposite to the result's.
		if (a^r)&(b^r) < 0 {
			return value{}, e.overflow(n, a, b)
		}
		return intValue(r), nil
	case "-":
		r := a - b
		// Overflow iff the operands' signs differ and the result's sign
		// differs from a's.
		if (a^b)&(a^r) < 0 {
			return value{}, e.overflow(n, a, b)
		}
		return intValue(r), nil
	case "*":
		if a == 0 || b == 0 {
			return intValue(0), nil
		}
		r := a * b
		if (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) || r/b != a {
			return value{}, e.overflow(n, a, b)
		}
		return intValue(r), nil
	case "/":
		if b == 0 {
			return value{}, e.divisionByZero(n)
		}
		if a == math.MinInt64 && b == -1 {
			return value{}, e.overflow(n, a, b)
		}
		return intValue(a / b), nil
	case "%":
		if b == 0 {
			return value{}, e.divisionByZero(n)
		}
		// Go defines MinInt64 % -1 as 0 (no trap), which is the right answer.
		return intValue(a % b), nil
	}
	return value{}, e.errorf(ErrUnsupported, n, "unsupported operator %s at %s", n.Operator, e.position(n))
}

func (e *evaluator) floatOp(n *ast.BinaryNode, a, b float64) (value, error) {
	var r float64
	switch n.Operator {
	case "+":
		r = a + b
	case "-":
		r = a - b
	case "*":
		r = a * b
	case "/":
		if b == 0 {
			return value{}, e.divisionByZero(n)
		}
		r = a / b
	case "%":
		if b == 0 {
			return value{}, e.divisionByZero(n)
		}
		r = math.Mod(a, b)
	default:
		return value{}, e.errorf(ErrUnsupported, n, "unsupported operator %s at %s", n.Operator, e.position(n))
	}
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return value{}, e.errorf(ErrOverflow, n, "float overflow: %s %s %s is out of range", formatFloat(a), n.Operator, formatFloat(b))
	}
	return floatValue(r), nil
}

func (e *evaluator) overflow(n *ast.BinaryNode, a, b int64) *Error {
	return e.errorf(ErrOverflow, n, "integer overflow: %d %s %d", a, n.Operator, b)
}

func (e *evaluator) divisionByZero(n ast.Node) *Error {
	return &Error{Kind: ErrDivisionByZero, Offset: e.offset(n), Msg: "division by zero"}
}

func (e *evaluator) errorf(kind error, n ast.Node, format string, args ...any) *Error {
	return newError(kind, e.offset(n), format, args...)
}

func (e *evaluator) offset(n ast.Node) int {
	if n == nil {
		return -1
	}
	return byteOffset(e.src, e.ascii, n.Location().From)
}

func (e *evaluator) position(n ast.Node) string {
	return position(e.src, max(e.offset(n), 0))
}

// byteOffset converts expr-lang's rune offset into a byte offset of src.
func byteOffset(src string, ascii bool, runeOff int) int {
	if runeOff < 0 {
		return 0
	}
	if ascii {
		return min(runeOff, len(src))
	}
	for i := range src {
		if runeOff == 0 {
			return i
		}
		runeOff--
	}
	return len(src)
}

// syntaxError turns an error of expr-lang's parser into a message for the
// author of src. scan has already accepted src, so it consists of decimal
// numbers, + - * / % ( ) and spaces, and parentheses are balanced or
// unclosed, never unmatched; the parser reports the token where the grammar
// failed.
func syntaxError(src string, info scanInfo, err error) *Error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return &Error{Kind: ErrSyntax, Offset: -1, Msg: "syntax error: the expression could not be parsed"}
	}
	msg := fe.Message
	off := byteOffset(src, info.ascii, fe.From)
	switch {
	case msg == "integer literal is too large": // 32-bit platforms only
		return &Error{Kind: ErrOverflow, Offset: -1, Msg: "integer overflow: an integer literal does not fit in int"}
	case msg == "unexpected token EOF" || off >= len(src):
		return endError(src)
	case !strings.HasPrefix(msg, "unexpected token "):
		return newError(ErrSyntax, off, "syntax error at %s: %s", position(src, off), msg)
	}

	pos := position(src, off)
	prev, prevOff := prevToken(src, off)
	switch c := src[off]; {
	case isDigit(c) || c == '.':
		end := off + 1
		for end < len(src) && (isDigit(src[end]) || strings.IndexByte(".eE", src[end]) >= 0 ||
			(src[end] == '+' || src[end] == '-') && (src[end-1] == 'e' || src[end-1] == 'E')) {
			end++
		}
		return newError(ErrSyntax, off, "syntax error: missing operator before %s at %s", clip(src[off:end]), pos)
	case c == '(':
		return newError(ErrSyntax, off, "syntax error: missing operator before ( at %s", pos)
	case c == ')':
		switch {
		case prev == '(':
			return newError(ErrSyntax, prevOff, "syntax error: empty parentheses at %s", position(src, prevOff))
		case isOperator(prev):
			return operandError(src, prevOff)
		}
		return newError(ErrSyntax, off, "syntax error: unexpected ) at %s", pos)
	case isOperator(c):
		if prev == 0 || prev == '(' {
			return newError(ErrSyntax, off, "syntax error: operator %c at %s is missing its left operand", c, pos)
		}
		return newError(ErrSyntax, off, "syntax error: unexpected operator %c at %s", c, pos)
	}
	r, _ := utf8.DecodeRuneInString(src[off:])
	return newError(ErrSyntax, off, "syntax error: unexpected %s at %s", quoteRune(r), pos)
}

// endError explains why src ended too early.
func endError(src string) *Error {
	last, lastOff := prevToken(src, len(src))
	if isOperator(last) {
		return operandError(src, lastOff)
	}
	// Find the innermost unclosed parenthesis.
	var open []int
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '(':
			open = append(open, i)
		case ')':
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		}
	}
	if len(open) > 0 {
		o := open[len(open)-1]
		return newError(ErrSyntax, o, "syntax error: missing ) for the ( at %s", position(src, o))
	}
	return newError(ErrSyntax, -1, "syntax error: unexpected end of expression")
}

// operandError reports that the operator at src[off] has no right operand.
func operandError(src string, off int) *Error {
	before, _ := prevToken(src, off)
	if before == 0 || before == '(' || isOperator(before) {
		return newError(ErrSyntax, off, "syntax error: operator %c at %s is missing its operand", src[off], position(src, off))
	}
	return newError(ErrSyntax, off, "syntax error: operator %c at %s is missing its right operand", src[off], position(src, off))
}

// prevToken returns the last non-space byte of src before off and its
// offset, or 0 and -1 when there is none. Tokens accepted by scan are ASCII,
// so the last byte of a number is a digit or '.'.
func prevToken(src string, off int) (byte, int) {
	for i := off - 1; i >= 0; i-- {
		c := src[i]
		if isASCIISpace(c) {
			continue
		}
		if c >= utf8.RuneSelf { // a multi-byte Unicode space
			continue
		}
		return c, i
	}
	return 0, -1
}

func isOperator(c byte) bool {
	return c == '+' || c == '-' || c == '*' || c == '/' || c == '%'
}
