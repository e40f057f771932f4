package expr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// scanInfo is what scan learns about a valid input.
type scanInfo struct {
	// ascii is true when the input has no multi-byte runes, so that
	// expr-lang's rune offsets are byte offsets.
	ascii bool
}

// scan checks that src contains only the tokens of the arithmetic language:
// decimal number literals, + - * / % ( ) and whitespace. It rejects, with a
// message naming what is wrong, everything else that expr-lang's lexer would
// accept, so that the parser only ever sees our language. It also enforces
// MaxDepth (for parentheses) and MaxTerms.
func scan(src string) (scanInfo, *Error) {
	info := scanInfo{ascii: true}
	depth, terms := 0, 0
	empty := true
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case isASCIISpace(c):
			i++
			continue
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(src[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				return info, newError(ErrSyntax, i, "syntax error: invalid UTF-8 at %s", position(src, i))
			case unicode.IsSpace(r):
				info.ascii = false
				i += size
				continue
			case unicode.IsLetter(r) || unicode.IsDigit(r):
				return info, identifierError(src, i)
			default:
				return info, newError(ErrUnsupported, i, "unsupported character %s at %s", quoteRune(r), position(src, i))
			}
		case isDigit(c) || c == '.' && i+1 < len(src) && isDigit(src[i+1]):
			end, err := scanNumber(src, i)
			if err != nil {
				return info, err
			}
			i = end
			terms++
		case isIdentStart(c):
			return info, identifierError(src, i)
		case c == '(':
			depth++
			if depth > MaxDepth {
				return info, newError(ErrTooComplex, i, "expression is nested too deeply: more than %d levels of parentheses", MaxDepth)
			}
			i++
		case c == ')':
			depth--
			if depth < 0 {
				return info, newError(ErrSyntax, i, "syntax error: unmatched ) at %s", position(src, i))
			}
			i++
		case c == '+' || c == '-' || c == '%':
			i++
			terms++
		case c == '*':
			if i+1 < len(src) && src[i+1] == '*' {
				return info, newError(ErrUnsupported, i, "unsupported operator ** at %s (exponentiation is not supported)", position(src, i))
			}
			i++
			terms++
		case c == '/':
			if i+1 < len(src) && src[i+1] == '/' {
				return info, newError(ErrUnsupported, i, "unsupported operator // at %s (use / for division)", position(src, i))
			}
			if i+1 < len(src) && src[i+1] == '*' {
				return info, newError(ErrUnsupported, i, "unsupported comment /* at %s", position(src, i))
			}
			i++
			terms++
		case c == '"' || c == '\'' || c == '`':
			return info, newError(ErrUnsupported, i, "unsupported string literal at %s", position(src, i))
		case isOperatorChar(c):
			j := i + 1
			for j < len(src) && isOperatorChar(src[j]) {
				j++
			}
			return info, newError(ErrUnsupported, i, "unsupported operator %s at %s", clip(src[i:j]), position(src, i))
		default:
			return info, newError(ErrUnsupported, i, "unsupported character %s at %s", quoteRune(rune(c)), position(src, i))
		}
		empty = false
		if terms > MaxTerms {
			return info, newError(ErrTooComplex, -1, "expression is too long: more than %d numbers and operators", MaxTerms)
		}
	}
	if empty {
		return info, newError(ErrSyntax, -1, "syntax error: empty expression")
	}
	return info, nil
}

// scanNumber scans the number literal starting at src[i] and returns the
// offset just past it. It accepts exactly what expr-lang's lexer accepts for
// decimal literals: digits, an optional fraction (1.5, .5, 5.), an optional
// exponent (1e3, 2.5E-3), and no identifier character right after it.
func scanNumber(src string, i int) (int, *Error) {
	start := i
	isFloat, hasExp := false, false
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	// "1..2" is 1 followed by the range operator, as in expr-lang.
	if i < len(src) && src[i] == '.' && (i+1 >= len(src) || src[i+1] != '.') {
		isFloat = true
		i++
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j < len(src) && isDigit(src[j]) {
			isFloat, hasExp = true, true
			i = j
			for i < len(src) && isDigit(src[i]) {
				i++
			}
		}
	}
	if i < len(src) && isIdentRune(src, i) {
		end := i
		for end < len(src) && (isIdentRune(src, end) || src[end] == '.') {
			_, size := utf8.DecodeRuneInString(src[end:])
			end += size
		}
		word := src[start:end]
		hint := ""
		if lower := strings.ToLower(word); strings.HasPrefix(lower, "0x") || strings.HasPrefix(lower, "0o") ||
			strings.HasPrefix(lower, "0b") || strings.Contains(word, "_") {
			hint = " (only decimal numbers without separators are supported)"
		}
		return 0, newError(ErrSyntax, start, "syntax error: invalid number %s at %s%s", clip(word), position(src, start), hint)
	}
	lit := src[start:i]
	if !isFloat {
		// Only literals of 19 digits or more can overflow int64.
		if len(lit) >= 19 {
			if _, err := strconv.ParseInt(lit, 10, 64); err != nil {
				return 0, newError(ErrOverflow, start, "integer overflow: literal %s at %s does not fit in 64 bits", clip(lit), position(src, start))
			}
		}
		return i, nil
	}
	// Without an exponent a literal needs more than 308 digits to overflow.
	if hasExp || len(lit) > 300 {
		if _, err := strconv.ParseFloat(lit, 64); err != nil {
			// expr-lang rejects both overflow and underflow (ErrRange).
			return 0, newError(ErrOverflow, start, "float overflow: literal %s at %s is out of range", clip(lit), position(src, start))
		}
	}
	return i, nil
}

// identifierError reports the identifier starting at src[i]: a keyword
// operator, a literal of another type, a function call or an unknown name.
func identifierError(src string, i int) *Error {
	end := i
	for end < len(src) && isIdentRune(src, end) {
		_, size := utf8.DecodeRuneInString(src[end:])
		end += size
	}
	word := clip(src[i:end])
	pos := position(src, i)
	switch word {
	case "true", "false":
		return newError(ErrUnsupported, i, "unsupported boolean literal %s at %s", word, pos)
	case "nil":
		return newError(ErrUnsupported, i, "unsupported nil literal at %s", pos)
	case "and", "or", "not", "in", "matches", "contains", "startsWith", "endsWith":
		return newError(ErrUnsupported, i, "unsupported operator %s at %s", word, pos)
	case "if", "else", "let":
		return newError(ErrUnsupported, i, "unsupported keyword %s at %s", word, pos)
	}
	next := end
	for next < len(src) && isASCIISpace(src[next]) {
		next++
	}
	if next < len(src) && src[next] == '(' {
		return newError(ErrUnsupported, i, "unsupported function call %s() at %s", word, pos)
	}
	return newError(ErrUnsupported, i, "unknown identifier %s at %s", word, pos)
}

// maxEcho is the longest piece of the input quoted in an error message.
const maxEcho = 40

// clip shortens a piece of the input quoted in an error message.
func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '$'
}

// isIdentRune reports whether the rune at src[i] can be part of an
// identifier in expr-lang (letters, digits, _ and $).
func isIdentRune(src string, i int) bool {
	c := src[i]
	if c < utf8.RuneSelf {
		return isIdentStart(c) || isDigit(c)
	}
	r, _ := utf8.DecodeRuneInString(src[i:])
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// isOperatorChar reports the characters of expr-lang operators that are not
// part of the arithmetic language (==, <=, &&, ||, ??, ?., .., ^, !, ...).
func isOperatorChar(c byte) bool {
	switch c {
	case '=', '<', '>', '!', '&', '|', '?', ':', '.', '^', '~':
		return true
	}
	return false
}

func quoteRune(r rune) string {
	if unicode.IsPrint(r) && r != ' ' {
		return strconv.QuoteRune(r)
	}
	return fmt.Sprintf("U+%04X", r)
}

// position describes byte offset off of src for a message: "column 7", or
// "line 2, column 3" when src has several lines. Columns count runes from 1.
func position(src string, off int) string {
	if off > len(src) {
		off = len(src)
	}
	line, col := 1, 1
	multiline := false
	for i, r := range src {
		if r == '\n' {
			multiline = true
			if i < off {
				line++
				col = 1
			}
			continue
		}
		if i < off {
			col++
		}
	}
	if !multiline {
		return "column " + strconv.Itoa(col)
	}
	return "line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col)
}

func newError(kind error, off int, format string, args ...any) *Error {
	return &Error{Kind: kind, Offset: off, Msg: fmt.Sprintf(format, args...)}
}
