package expr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jobplane/jobplane/pkg/expr"
)

// seedTable is the table every implementation must reproduce exactly.
var seedTable = []struct {
	src  string
	want string
}{
	{"69", "69"},
	{"1 + 2 + 3 - 7 * 2", "-8"},
	{"34 * 2 + 1", "69"},
	{"6 - 14 + 5", "-3"},
	{"-8 + 5", "-3"},
	{"1 + 2 + 3 - 14 + 5", "-3"},
	{"-3", "-3"},
	{"68 + 1", "69"},
	{"3 / 4 + 1", "1"},
	{"0 * 3 + 4 - 1 + 5 * 39", "198"},
}

func TestEvalSeedTable(t *testing.T) {
	t.Parallel()
	for _, tt := range seedTable {
		t.Run(tt.src, func(t *testing.T) {
			t.Parallel()
			got, err := expr.Eval(tt.src)
			if err != nil || got != tt.want {
				t.Fatalf("Eval(%q) = %q, %v; want %q", tt.src, got, err, tt.want)
			}
		})
	}
	if _, err := expr.Eval("1 + 2 + 3 - 7 * 2 +"); err == nil {
		t.Fatal(`Eval("1 + 2 + 3 - 7 * 2 +") succeeded, want an error`)
	}
}

func TestEval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want string
	}{
		// Precedence and associativity.
		{"mul before add", "2 + 3 * 4", "14"},
		{"div before sub", "20 - 6 / 3", "18"},
		{"mod before add", "1 + 7 % 4", "4"},
		{"left assoc sub", "10 - 3 - 2", "5"},
		{"left assoc div", "100 / 10 / 5", "2"},
		{"left assoc mixed", "7 * 3 % 4 / 2", "0"},
		{"left assoc mod mul", "7 % 4 * 2", "6"},
		{"unary binds tightest", "-2 * 3", "-6"},
		{"unary on product", "2 * -3", "-6"},
		{"unary after binary minus", "1 - -1", "2"},
		{"double unary", "--3", "3"},
		{"unary plus", "+3", "3"},
		{"mixed unary", "-+-+3", "3"},
		{"unary on parens", "-(2 + 3)", "-5"},

		// Parentheses.
		{"parens change precedence", "(2 + 3) * 4", "20"},
		{"nested parens", "((((1 + 2)) * (3 - (4 - 5))))", "12"},
		{"parens around literal", "(69)", "69"},
		{"right nested", "1 - (2 - (3 - (4 - 5)))", "3"},

		// Whitespace.
		{"no spaces", "34*2+1", "69"},
		{"tabs", "\t34\t*\t2 +\t1\t", "69"},
		{"newlines", "34 *\n2\r\n+ 1\n", "69"},
		{"unicode spaces", "34\u00a0*\u20032 + 1", "69"},

		// Integer division and remainder truncate toward zero.
		{"int div truncates", "3 / 4", "0"},
		{"int div negative", "-7 / 2", "-3"},
		{"int div negative divisor", "7 / -2", "-3"},
		{"int div both negative", "-7 / -2", "3"},
		{"int mod", "7 % 3", "1"},
		{"int mod negative dividend", "-7 % 3", "-1"},
		{"int mod negative divisor", "7 % -3", "1"},
		{"MinInt64 mod -1", "(-9223372036854775807 - 1) % -1", "0"},

		// Integer limits.
		{"MaxInt64 literal", "9223372036854775807", "9223372036854775807"},
		{"MinInt64 by subtraction", "-9223372036854775807 - 1", "-9223372036854775808"},
		{"MaxInt64 sum", "9223372036854775806 + 1", "9223372036854775807"},
		{"MinInt64 product", "-4611686018427387904 * 2", "-9223372036854775808"},
		{"MinInt64 div 1", "(-9223372036854775807 - 1) / 1", "-9223372036854775808"},
		{"leading zeros are decimal", "007 + 010", "17"},
		{"long zero-padded literal", "00000000000000000000000042", "42"},

		// Floats.
		{"float division", "10 / 4.0", "2.5"},
		{"float times int is integral", "1.5 * 2", "3"},
		{"float literal", "2.5", "2.5"},
		{"float integral literal", "2.0", "2"},
		{"leading dot", ".5 + 1", "1.5"},
		{"trailing dot", "5. / 2", "2.5"},
		{"shortest round trip", "0.1 + 0.2", "0.30000000000000004"},
		{"third", "1 / 3.0", "0.3333333333333333"},
		{"float mod", "7.5 % 2", "1.5"},
		{"float mod negative", "-7.5 % 2", "-1.5"},
		{"int mod float", "7 % 2.5", "2"},
		{"negative zero prints 0", "-0.0", "0"},
		{"negative zero product", "0 * -1.5", "0"},
		{"float negation", "-(1.5)", "-1.5"},
		{"large float no exponent", "1e20", "100000000000000000000"},
		{"million", "1000000.0", "1000000"},
		{"huge float exponent", "1e21", "1e+21"},
		{"tiny float exponent", "1e-7", "1e-7"},
		{"small float no exponent", "0.000001", "0.000001"},
		{"float underflow literal is zero", "1e-400", "0"},
		{"int to float beyond 2^53", "9007199254740993 * 1.0", "9007199254740992"},
		{"float beyond int64 range", "9223372036854775807 * 2.0", "18446744073709552000"},

		// Exponent literals are floats.
		{"exponent", "1e3", "1000"},
		{"exponent upper", "2E3 + 1", "2001"},
		{"exponent signed", "2.5e-1 * 4", "1"},
		{"exponent plus", "1e+2 / 8", "12.5"},
		{"exponent after dot", "1.e2", "100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := expr.Eval(tt.src)
			if err != nil || got != tt.want {
				t.Fatalf("Eval(%q) = %q, %v; want %q", tt.src, got, err, tt.want)
			}
		})
	}
}

func TestEvalErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		kind error
		msg  string // the exact message
	}{
		// Malformed expressions.
		{"trailing operator", "1 + 2 + 3 - 7 * 2 +", expr.ErrSyntax, "syntax error: operator + at column 19 is missing its right operand"},
		{"trailing operator and space", "1 + 2 +  ", expr.ErrSyntax, "syntax error: operator + at column 7 is missing its right operand"},
		{"lone minus", "-", expr.ErrSyntax, "syntax error: operator - at column 1 is missing its operand"},
		{"empty", "", expr.ErrSyntax, "syntax error: empty expression"},
		{"blank", " \t\n", expr.ErrSyntax, "syntax error: empty expression"},
		{"unclosed paren", "(1", expr.ErrSyntax, "syntax error: missing ) for the ( at column 1"},
		{"inner unclosed paren", "1 + ((2 * 3)", expr.ErrSyntax, "syntax error: missing ) for the ( at column 5"},
		{"unmatched paren", "1)", expr.ErrSyntax, "syntax error: unmatched ) at column 2"},
		{"empty parens", "1 + ()", expr.ErrSyntax, "syntax error: empty parentheses at column 5"},
		{"operator before close", "(1 +)", expr.ErrSyntax, "syntax error: operator + at column 4 is missing its right operand"},
		{"missing operator", "1 2", expr.ErrSyntax, "syntax error: missing operator before 2 at column 3"},
		{"missing operator float", "1 2.5e3", expr.ErrSyntax, "syntax error: missing operator before 2.5e3 at column 3"},
		{"missing operator paren", "2 (3)", expr.ErrSyntax, "syntax error: missing operator before ( at column 3"},
		{"missing left operand", "* 2", expr.ErrSyntax, "syntax error: operator * at column 1 is missing its left operand"},
		{"missing left operand in parens", "(/ 2)", expr.ErrSyntax, "syntax error: operator / at column 2 is missing its left operand"},
		{"two operators", "1 + * 2", expr.ErrSyntax, "syntax error: unexpected operator * at column 5"},
		{"multiline position", "1 +\n 2 +", expr.ErrSyntax, "syntax error: operator + at line 2, column 4 is missing its right operand"},
		{"hex literal", "0x1F", expr.ErrSyntax, "syntax error: invalid number 0x1F at column 1 (only decimal numbers without separators are supported)"},
		{"octal literal", "0o17", expr.ErrSyntax, "syntax error: invalid number 0o17 at column 1 (only decimal numbers without separators are supported)"},
		{"binary literal", "0b101", expr.ErrSyntax, "syntax error: invalid number 0b101 at column 1 (only decimal numbers without separators are supported)"},
		{"digit separator", "1_000", expr.ErrSyntax, "syntax error: invalid number 1_000 at column 1 (only decimal numbers without separators are supported)"},
		{"incomplete exponent", "1e + 1", expr.ErrSyntax, "syntax error: invalid number 1e at column 1"},
		{"number glued to word", "12abc", expr.ErrSyntax, "syntax error: invalid number 12abc at column 1"},
		{"invalid UTF-8", "1 + \xff", expr.ErrSyntax, "syntax error: invalid UTF-8 at column 5"},

		// Everything else in the expr-lang language.
		{"identifier", "x + 1", expr.ErrUnsupported, "unknown identifier x at column 1"},
		{"unicode identifier", "2 * π", expr.ErrUnsupported, "unknown identifier π at column 5"},
		{"function call", "abs(-1)", expr.ErrUnsupported, "unsupported function call abs() at column 1"},
		{"function call space", "max (1, 2)", expr.ErrUnsupported, "unsupported function call max() at column 1"},
		{"string", `"1" + 1`, expr.ErrUnsupported, "unsupported string literal at column 1"},
		{"raw string", "`1`", expr.ErrUnsupported, "unsupported string literal at column 1"},
		{"boolean", "true", expr.ErrUnsupported, "unsupported boolean literal true at column 1"},
		{"nil", "nil", expr.ErrUnsupported, "unsupported nil literal at column 1"},
		{"comparison", "1 < 2", expr.ErrUnsupported, "unsupported operator < at column 3"},
		{"equality", "1 == 1", expr.ErrUnsupported, "unsupported operator == at column 3"},
		{"logical", "1 && 2", expr.ErrUnsupported, "unsupported operator && at column 3"},
		{"word operator", "1 and 2", expr.ErrUnsupported, "unsupported operator and at column 3"},
		{"not", "not 1", expr.ErrUnsupported, "unsupported operator not at column 1"},
		{"if", "if 1 { 2 } else { 3 }", expr.ErrUnsupported, "unsupported keyword if at column 1"},
		{"bang", "!1", expr.ErrUnsupported, "unsupported operator ! at column 1"},
		{"pipe", "1 | abs", expr.ErrUnsupported, "unsupported operator | at column 3"},
		{"coalesce", "1 ?? 2", expr.ErrUnsupported, "unsupported operator ?? at column 3"},
		{"byte order mark", "\ufeff1", expr.ErrUnsupported, "unsupported character U+FEFF at column 1"},
		{"ternary", "1 ? 2 : 3", expr.ErrUnsupported, "unsupported operator ? at column 3"},
		{"power", "2 ** 3", expr.ErrUnsupported, "unsupported operator ** at column 3 (exponentiation is not supported)"},
		{"caret", "2 ^ 3", expr.ErrUnsupported, "unsupported operator ^ at column 3"},
		{"floor division", "7 // 2", expr.ErrUnsupported, "unsupported operator // at column 3 (use / for division)"},
		{"comment", "7 /* 2 */", expr.ErrUnsupported, "unsupported comment /* at column 3"},
		{"range", "1..3", expr.ErrUnsupported, "unsupported operator .. at column 2"},
		{"member", "1 .x", expr.ErrUnsupported, "unsupported operator . at column 3"},
		{"sequence", "1; 2", expr.ErrUnsupported, "unsupported character ';' at column 2"},
		{"array", "[1]", expr.ErrUnsupported, "unsupported character '[' at column 1"},
		{"map", "{a: 1}", expr.ErrUnsupported, "unsupported character '{' at column 1"},
		{"pointer", "#", expr.ErrUnsupported, "unsupported character '#' at column 1"},
		{"let", "let x = 1; x", expr.ErrUnsupported, "unsupported keyword let at column 1"},
		{"control character", "1 +\x00 2", expr.ErrUnsupported, "unsupported character U+0000 at column 4"},
		{"emoji", "1 + 🙂", expr.ErrUnsupported, "unsupported character '🙂' at column 5"},

		// Arithmetic errors.
		{"int division by zero", "1 / 0", expr.ErrDivisionByZero, "division by zero"},
		{"int modulo by zero", "1 % 0", expr.ErrDivisionByZero, "division by zero"},
		{"float division by zero", "1.5 / 0", expr.ErrDivisionByZero, "division by zero"},
		{"float division by float zero", "1 / 0.0", expr.ErrDivisionByZero, "division by zero"},
		{"float division by negative zero", "1 / -0.0", expr.ErrDivisionByZero, "division by zero"},
		{"zero by zero", "0.0 / 0", expr.ErrDivisionByZero, "division by zero"},
		{"float modulo by zero", "1.5 % 0", expr.ErrDivisionByZero, "division by zero"},
		{"computed zero divisor", "1 / (2 - 2)", expr.ErrDivisionByZero, "division by zero"},
		{"add overflow", "9223372036854775807 + 1", expr.ErrOverflow, "integer overflow: 9223372036854775807 + 1"},
		{"add underflow", "-9223372036854775807 + -2", expr.ErrOverflow, "integer overflow: -9223372036854775807 + -2"},
		{"sub overflow", "-9223372036854775807 - 2", expr.ErrOverflow, "integer overflow: -9223372036854775807 - 2"},
		{"sub overflow positive", "9223372036854775807 - -1", expr.ErrOverflow, "integer overflow: 9223372036854775807 - -1"},
		{"mul overflow", "4611686018427387904 * 2", expr.ErrOverflow, "integer overflow: 4611686018427387904 * 2"},
		{"mul overflow negative", "-4611686018427387905 * 2", expr.ErrOverflow, "integer overflow: -4611686018427387905 * 2"},
		{"mul overflow wraps to positive", "3037000500 * 3037000500", expr.ErrOverflow, "integer overflow: 3037000500 * 3037000500"},
		{"mul MinInt64 by -1", "(-9223372036854775807 - 1) * -1", expr.ErrOverflow, "integer overflow: -9223372036854775808 * -1"},
		{"mul -1 by MinInt64", "-1 * (-9223372036854775807 - 1)", expr.ErrOverflow, "integer overflow: -1 * -9223372036854775808"},
		{"negate MinInt64", "-(-9223372036854775807 - 1)", expr.ErrOverflow, "integer overflow: -(-9223372036854775808)"},
		{"MinInt64 div -1", "(-9223372036854775807 - 1) / -1", expr.ErrOverflow, "integer overflow: -9223372036854775808 / -1"},
		{"literal too large", "9223372036854775808", expr.ErrOverflow, "integer overflow: literal 9223372036854775808 at column 1 does not fit in 64 bits"},
		{"MinInt64 literal", "-9223372036854775808", expr.ErrOverflow, "integer overflow: literal 9223372036854775808 at column 2 does not fit in 64 bits"},
		{"float literal too large", "1e309", expr.ErrOverflow, "float overflow: literal 1e309 at column 1 is out of range"},
		{"float overflow", "1e308 * 10", expr.ErrOverflow, "float overflow: 1e+308 * 10 is out of range"},
		{"float overflow sum", "-1.7976931348623157e308 - 1e308", expr.ErrOverflow, "float overflow: -1.7976931348623157e+308 - 1e+308 is out of range"},
		{"float overflow division", "1e308 / 1e-10", expr.ErrOverflow, "float overflow: 1e+308 / 1e-10 is out of range"},

		// Long tokens are clipped in messages.
		{"long identifier", strings.Repeat("a", 100), expr.ErrUnsupported, "unknown identifier " + strings.Repeat("a", 40) + "… at column 1"},
		{"long literal", strings.Repeat("9", 100), expr.ErrOverflow, "integer overflow: literal " + strings.Repeat("9", 40) + "… at column 1 does not fit in 64 bits"},
		{"long float literal", "1e" + strings.Repeat("9", 100), expr.ErrOverflow, "float overflow: literal 1e" + strings.Repeat("9", 38) + "… at column 1 is out of range"},
		{"clip on rune boundary", "1" + strings.Repeat("é", 30), expr.ErrSyntax, "syntax error: invalid number 1" + strings.Repeat("é", 19) + "… at column 1"},

		// Limits.
		{"too long", strings.Repeat(" ", expr.MaxLength-1) + "12", expr.ErrTooComplex, "expression is too long: 4097 bytes (limit 4096)"},
		{"too many parentheses", strings.Repeat("(", expr.MaxDepth+1) + "1" + strings.Repeat(")", expr.MaxDepth+1), expr.ErrTooComplex, "expression is nested too deeply: more than 100 levels of parentheses"},
		{"unclosed deep parentheses", strings.Repeat("(", 2000), expr.ErrTooComplex, "expression is nested too deeply: more than 100 levels of parentheses"},
		{"too many unary operators", strings.Repeat("-", expr.MaxDepth+1) + "1", expr.ErrTooComplex, "expression is nested too deeply: more than 100 levels"},
		{"too deep right nesting", strings.Repeat("1-(", expr.MaxDepth/2) + strings.Repeat("-", expr.MaxDepth/2+1) + "1" + strings.Repeat(")", expr.MaxDepth/2), expr.ErrTooComplex, "expression is nested too deeply: more than 100 levels"},
		{"too many terms", "1" + strings.Repeat("+1", expr.MaxTerms/2), expr.ErrTooComplex, "expression is too long: more than 1024 numbers and operators"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := expr.Eval(tt.src)
			if err == nil {
				t.Fatalf("Eval(%q) = %q, want error %q", tt.src, got, tt.msg)
			}
			if got != "" {
				t.Errorf("Eval(%q) returned %q with its error, want empty", tt.src, got)
			}
			if err.Error() != tt.msg {
				t.Errorf("Eval(%q) error = %q, want %q", tt.src, err, tt.msg)
			}
			if !errors.Is(err, expr.ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.kind)
			}
			var e *expr.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not a *expr.Error", err)
			}
			if e.Offset < -1 || e.Offset >= len(tt.src) && e.Offset != -1 {
				t.Errorf("Offset = %d, out of range for %d-byte input", e.Offset, len(tt.src))
			}
		})
	}
}

func TestEvalLimitsAccepted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"max length", strings.Repeat(" ", expr.MaxLength-2) + "69", "69"},
		{"max parentheses", strings.Repeat("(", expr.MaxDepth) + "1" + strings.Repeat(")", expr.MaxDepth), "1"},
		{"max unary operators", strings.Repeat("-", expr.MaxDepth) + "1", "1"},
		{"max terms", "1" + strings.Repeat("+1", expr.MaxTerms/2-1), "512"},
		{"long left chain is not deep", strings.Repeat("(", expr.MaxDepth) + "0" + strings.Repeat("+1)", expr.MaxDepth), "100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := expr.Eval(tt.src)
			if err != nil || got != tt.want {
				t.Fatalf("Eval(%d-byte input) = %q, %v; want %q", len(tt.src), got, err, tt.want)
			}
		})
	}
}

func TestErrorIs(t *testing.T) {
	t.Parallel()
	_, err := expr.Eval("1 / 0")
	if !errors.Is(err, expr.ErrInvalid) || !errors.Is(err, expr.ErrDivisionByZero) {
		t.Fatalf("error %v does not match ErrInvalid and ErrDivisionByZero", err)
	}
	for _, other := range []error{expr.ErrSyntax, expr.ErrUnsupported, expr.ErrOverflow, expr.ErrTooComplex} {
		if errors.Is(err, other) {
			t.Errorf("errors.Is(%v, %v) = true, want false", err, other)
		}
	}
	wrapped := errors.Join(errors.New("operation 3"), err)
	if !errors.Is(wrapped, expr.ErrInvalid) {
		t.Error("a wrapped *Error no longer matches ErrInvalid")
	}
}

func BenchmarkEval(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for _, tt := range seedTable {
			if _, err := expr.Eval(tt.src); err != nil {
				b.Fatal(err)
			}
		}
	}
}
