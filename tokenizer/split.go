package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A matcher returns the non-overlapping, non-empty matches of a pattern
// in s, in order, as [start, end) byte pairs.
type matcher func(s string) [][2]int

// literal matches every occurrence of p (non-empty), left to right.
func literal(p string) matcher {
	return func(s string) [][2]int {
		var out [][2]int
		for i := 0; ; {
			k := strings.Index(s[i:], p)
			if k < 0 {
				return out
			}
			out = append(out, [2]int{i + k, i + k + len(p)})
			i += k + len(p)
		}
	}
}

// scanned matches the pieces of a scanner: they tile s.
func scanned(split splitter) matcher {
	return func(s string) [][2]int {
		var out [][2]int
		for i := 0; i < len(s); {
			j := split(s, i)
			out = append(out, [2]int{i, j})
			i = j
		}
		return out
	}
}

// runes matches every rune for which is holds, one match each.
func runes(is func(rune) bool) matcher {
	return func(s string) [][2]int {
		var out [][2]int
		for i, r := range s {
			if is(r) {
				out = append(out, [2]int{i, i + utf8.RuneLen(r)})
			}
		}
		return out
	}
}

// goRegexp is a compiled pattern.
func goRegexp(re *regexp.Regexp) matcher {
	return func(s string) [][2]int {
		var out [][2]int
		for _, m := range re.FindAllStringIndex(s, -1) {
			out = append(out, [2]int{m[0], m[1]})
		}
		return out
	}
}

// whiteSpace is Unicode's White_Space property (Oniguruma's \s), which
// is not Go's ASCII \s.
const whiteSpace = `\t-\r\x{85}\p{Z}`

// word is Oniguruma's Unicode \w.
const word = `\p{L}\p{M}\p{Nd}\p{Pc}`

// compilePattern turns a tokenizer.json Regex (Oniguruma syntax) into a
// Go matcher: the patterns of GPT-2, Qwen (cl100k) and Llama 3 are the
// hand-written scanners; any other is translated for Go's regexp, with
// \s, \d and \w given their Unicode meaning and ^ $ their line meaning,
// and refused when it needs look-around, back-references, word
// boundaries or other constructs Go's regexp lacks, or can match the
// empty string.
func compilePattern(p, what string) (matcher, error) {
	switch p {
	case gpt2Pattern:
		return scanned(splitGPT2), nil
	case qwenPattern:
		return scanned(splitQwen), nil
	case llama3Pattern:
		return scanned(splitLlama3), nil
	}
	for _, la := range []string{"(?=", "(?!", "(?<=", "(?<!", "(?>"} {
		if strings.Contains(p, la) {
			return nil, fmt.Errorf("tokenizer: %s regex %q uses %s…), which Go's regexp lacks: not supported", what, p, la)
		}
	}
	var b strings.Builder
	b.WriteString("(?m)")
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			e := p[i]
			var out string
			switch e {
			case 's':
				out = "[" + whiteSpace + "]"
			case 'S':
				out = "[^" + whiteSpace + "]"
			case 'd':
				out = `\p{Nd}`
			case 'D':
				out = `\P{Nd}`
			case 'w':
				out = "[" + word + "]"
			case 'W':
				out = "[^" + word + "]"
			case 'u':
				// Oniguruma's \uHHHH is Go's \x{HHHH}
				if i+4 >= len(p) || strings.Trim(p[i+1:i+5], "0123456789abcdefABCDEF") != "" {
					return nil, fmt.Errorf("tokenizer: %s regex %q: \\u wants four hex digits", what, p)
				}
				out = `\x{` + p[i+1:i+5] + `}`
				i += 4
			case 'b', 'B', 'A', 'z', 'Z', 'G', 'h', 'H', 'k', 'K', 'R', 'X', '1', '2', '3', '4', '5', '6', '7', '8', '9':
				return nil, fmt.Errorf("tokenizer: %s regex %q uses \\%c: not supported", what, p, e)
			default:
				out = p[i-1 : i+1]
			}
			if inClass {
				switch e {
				case 's':
					out = whiteSpace
				case 'w':
					out = word
				case 'S', 'W':
					return nil, fmt.Errorf("tokenizer: %s regex %q uses \\%c in a class: not supported", what, p, e)
				}
			}
			b.WriteString(out)
			continue
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// a ] right after [ or [^ is literal
			if i+1 < len(p) && p[i+1] == '^' {
				i++
				b.WriteByte('^')
			}
			if i+1 < len(p) && p[i+1] == ']' {
				i++
				b.WriteString(`\]`)
			}
			continue
		case c == '[' && inClass:
			return nil, fmt.Errorf("tokenizer: %s regex %q nests a character class: not supported", what, p)
		case c == ']' && inClass:
			inClass = false
		}
		b.WriteByte(c)
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s regex %q: not supported: %w", what, p, err)
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("tokenizer: %s regex %q matches the empty string: not supported", what, p)
	}
	return goRegexp(re), nil
}

// A pretok cuts one piece of text into pieces, appending them to dst.
type pretok func(dst []ntext, n ntext) []ntext

// splitPieces cuts n at the matches of m, Hugging Face's Split with its
// delimiter behavior (Removed, Isolated, MergedWithPrevious,
// MergedWithNext, Contiguous) after invert swaps matches and the rest.
func splitPieces(dst []ntext, n ntext, m matcher, behavior string, invert bool) []ntext {
	type part struct {
		i, j  int
		match bool
	}
	var parts []part
	p := 0
	for _, r := range m(n.s) {
		if p < r[0] {
			parts = append(parts, part{p, r[0], false})
		}
		parts = append(parts, part{r[0], r[1], true})
		p = r[1]
	}
	if p < len(n.s) {
		parts = append(parts, part{p, len(n.s), false})
	}
	if invert {
		for k := range parts {
			parts[k].match = !parts[k].match
		}
	}
	var out []part
	prevMatch := false
	switch behavior {
	case "Removed":
		for _, q := range parts {
			if !q.match {
				out = append(out, q)
			}
		}
	case "Isolated":
		out = parts
	case "MergedWithPrevious":
		for _, q := range parts {
			if q.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].j = q.j
			} else {
				out = append(out, q)
			}
			prevMatch = q.match
		}
	case "MergedWithNext":
		for k := len(parts) - 1; k >= 0; k-- {
			q := parts[k]
			if q.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].i = q.i
			} else {
				out = append(out, q)
			}
			prevMatch = q.match
		}
		for a, b := 0, len(out)-1; a < b; a, b = a+1, b-1 {
			out[a], out[b] = out[b], out[a]
		}
	case "Contiguous":
		for _, q := range parts {
			if q.match == prevMatch && len(out) > 0 {
				out[len(out)-1].j = q.j
			} else {
				out = append(out, q)
			}
			prevMatch = q.match
		}
	default:
		panic("tokenizer: unchecked split behavior " + behavior)
	}
	for _, q := range out {
		if q.i < q.j {
			dst = append(dst, n.sub(q.i, q.j))
		}
	}
	return dst
}

func splitBy(m matcher, behavior string, invert bool) pretok {
	return func(dst []ntext, n ntext) []ntext { return splitPieces(dst, n, m, behavior, invert) }
}

// metaspace is the Metaspace pre-tokenizer: spaces become rep, rep is
// put first (scheme always, or first for the text at offset 0 of the
// caller's input) unless the text already starts with it, and, with
// split, each rep starts a piece.
func metaspace(rep, scheme string, split bool) pretok {
	return func(dst []ntext, n ntext) []ntext {
		w := sized(len(n.s) + len(rep)*(1+strings.Count(n.s, " ")))
		if !strings.HasPrefix(n.s, " ") && !strings.HasPrefix(n.s, rep) &&
			(scheme == "always" || scheme == "first" && len(n.org) > 0 && n.org[0].Start == 0) {
			w.add(rep, n.cover(0, 0))
		}
		p := 0
		for i := 0; i < len(n.s); i++ {
			if n.s[i] == ' ' {
				w.keep(n, p, i)
				w.add(rep, n.org[i])
				p = i + 1
			}
		}
		w.keep(n, p, len(n.s))
		t := w.text()
		if !split {
			return append(dst, t)
		}
		return splitPieces(dst, t, literal(rep), "MergedWithNext", false)
	}
}

// byteLevelPre is the ByteLevel pre-tokenizer: a space first
// (add_prefix_space) unless there is one, GPT-2's split (use_regex), and
// each byte as its rune of GPT-2's byte alphabet.
func byteLevelPre(prefix, useRegex bool) pretok {
	alpha, _ := byteLevel()
	var show [256]string
	for b, r := range alpha {
		show[b] = string(r)
	}
	return func(dst []ntext, n ntext) []ntext {
		if prefix && !strings.HasPrefix(n.s, " ") {
			var w nbuild
			w.add(" ", n.cover(0, 0))
			w.keep(n, 0, len(n.s))
			n = w.text()
		}
		pieces := []ntext{n}
		if useRegex {
			pieces = splitPieces(nil, n, scanned(splitGPT2), "Isolated", false)
		}
		for _, q := range pieces {
			var w nbuild
			for i := 0; i < len(q.s); i++ {
				w.add(show[q.s[i]], q.org[i])
			}
			dst = append(dst, w.text())
		}
		return dst
	}
}

// digits is the Digits pre-tokenizer: runs of numeric runes (each
// numeric rune, with individual) apart from the rest.
func digits(individual bool) pretok {
	behavior := "Contiguous"
	if individual {
		behavior = "Isolated"
	}
	return splitBy(runes(unicode.IsNumber), behavior, false)
}
