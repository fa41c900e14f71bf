package report

import (
	"fmt"
	"go/scanner"
	"go/token"
	"html"
	"strings"
)

// Region markers in a notebook's source: a line "// region: NAME" opens the
// region NAME and the next "// endregion" closes the innermost open region.
// Regions may nest; marker lines never appear in the code shown.
const (
	regionOpen  = "// region:"
	regionClose = "// endregion"
)

// regions splits Go source into its named regions, each dedented. It
// returns an error for a duplicate name, an unclosed region or a stray
// endregion.
func regions(src []byte) (map[string]string, error) {
	out := make(map[string]string)
	type open struct {
		name  string
		lines []string
	}
	var stack []*open
	for i, line := range strings.Split(string(src), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, regionOpen):
			name := strings.TrimSpace(strings.TrimPrefix(t, regionOpen))
			if name == "" {
				return nil, fmt.Errorf("report: source line %d: region without a name", i+1)
			}
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("report: source line %d: region %q defined twice", i+1, name)
			}
			for _, o := range stack {
				if o.name == name {
					return nil, fmt.Errorf("report: source line %d: region %q nested in itself", i+1, name)
				}
			}
			stack = append(stack, &open{name: name})
		case t == regionClose:
			if len(stack) == 0 {
				return nil, fmt.Errorf("report: source line %d: endregion without a region", i+1)
			}
			o := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			out[o.name] = dedent(o.lines)
		default:
			for _, o := range stack {
				o.lines = append(o.lines, line)
			}
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("report: region %q is not closed", stack[len(stack)-1].name)
	}
	return out, nil
}

// dedent removes the leading whitespace common to the non-blank lines and
// the blank lines at both ends.
func dedent(lines []string) string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	prefix := ""
	first := true
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		lead := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if first {
			prefix, first = lead, false
			continue
		}
		for !strings.HasPrefix(lead, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimRight(strings.TrimPrefix(l, prefix), " \t")
	}
	return strings.Join(out, "\n")
}

// highlight returns Go code as escaped HTML with spans for comments,
// strings, numbers and keywords (classes c, s, n, k). Text the scanner does
// not understand is escaped and left plain.
func highlight(code string) string {
	var b strings.Builder
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(code))
	var s scanner.Scanner
	s.Init(file, []byte(code), func(token.Position, string) {}, scanner.ScanComments)
	done := 0
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue // an inserted semicolon has no text
		}
		class := ""
		switch {
		case tok == token.COMMENT:
			class = "c"
		case tok == token.STRING || tok == token.CHAR:
			class = "s"
		case tok == token.INT || tok == token.FLOAT || tok == token.IMAG:
			class = "n"
		case tok.IsKeyword():
			class = "k"
		}
		if class == "" {
			continue
		}
		start := file.Offset(pos)
		text := lit
		if text == "" {
			text = tok.String()
		}
		end := start + len(text)
		if start < done || end > len(code) || code[start:end] != text {
			continue
		}
		b.WriteString(html.EscapeString(code[done:start]))
		fmt.Fprintf(&b, `<span class="%s">%s</span>`, class, html.EscapeString(text))
		done = end
	}
	b.WriteString(html.EscapeString(code[done:]))
	return b.String()
}
