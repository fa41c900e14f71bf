package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ntext is text on its way through the normalizers and pre-tokenizers of
// a tokenizer.json: its bytes and, for each byte, the span of the
// caller's text it comes from. Bytes a step rewrites all carry the span
// of what they replace; bytes a step inserts carry the empty span where
// they were inserted. The spans never decrease, so the span of bytes
// [i, j) is org[i].Start to org[j-1].End.
type ntext struct {
	s   string
	org []Span
}

// plainText is s, unchanged, at offset off of the caller's text.
func plainText(s string, off int) ntext {
	org := make([]Span, len(s))
	for i := range org {
		org[i] = Span{off + i, off + i + 1}
	}
	return ntext{s, org}
}

// cover is the span of the caller's text that bytes [i, j) come from.
func (n ntext) cover(i, j int) Span {
	if i < j {
		return Span{n.org[i].Start, n.org[j-1].End}
	}
	if i < len(n.org) {
		return Span{n.org[i].Start, n.org[i].Start}
	}
	if i > 0 {
		return Span{n.org[i-1].End, n.org[i-1].End}
	}
	return Span{}
}

func (n ntext) sub(i, j int) ntext { return ntext{n.s[i:j], n.org[i:j]} }

// nbuild accumulates a new ntext.
type nbuild struct {
	b   []byte
	org []Span
}

// add appends s, all of whose bytes come from sp.
func (w *nbuild) add(s string, sp Span) {
	w.b = append(w.b, s...)
	for range len(s) {
		w.org = append(w.org, sp)
	}
}

// keep appends bytes [i, j) of n unchanged.
func (w *nbuild) keep(n ntext, i, j int) {
	w.b = append(w.b, n.s[i:j]...)
	w.org = append(w.org, n.org[i:j]...)
}

func (w *nbuild) text() ntext { return ntext{string(w.b), w.org} }

// sized is an empty nbuild with room for n bytes.
func sized(n int) nbuild { return nbuild{make([]byte, 0, n), make([]Span, 0, n)} }

// A normalizer rewrites a whole section of text (between added tokens).
type normalizer func(ntext) ntext

// unicodeForm is the NFC, NFD, NFKC or NFKD normalizer: each segment
// norm cuts is rewritten as a whole. Bytes that are not UTF-8 stay as
// they are, and the valid runs between them are normalized apart (norm's
// decomposing Iter panics on an invalid byte before combining marks).
func unicodeForm(f norm.Form) normalizer {
	return func(n ntext) ntext {
		if f.IsNormalString(n.s) {
			return n
		}
		w := sized(len(n.s) + len(n.s)/4)
		for i := 0; i < len(n.s); {
			j := i
			for j < len(n.s) {
				r, size := utf8.DecodeRuneInString(n.s[j:])
				if r == utf8.RuneError && size <= 1 {
					break
				}
				j += size
			}
			if j == i {
				w.keep(n, i, i+1)
				i++
				continue
			}
			var it norm.Iter
			it.InitString(f, n.s[i:j])
			for !it.Done() {
				a := i + it.Pos()
				seg := it.Next()
				b := i + it.Pos()
				if string(seg) == n.s[a:b] {
					w.keep(n, a, b)
				} else {
					w.add(string(seg), n.cover(a, b))
				}
			}
			i = j
		}
		return w.text()
	}
}

// lowercase is the Lowercase normalizer with Unicode's full lower-case
// mapping, as Rust's and JavaScript's to-lower-case do: İ becomes i and
// a combining dot, and a capital sigma ending a word becomes ς.
func lowercase(n ntext) ntext {
	w := sized(len(n.s) + 8)
	for i := 0; i < len(n.s); {
		r, size := utf8.DecodeRuneInString(n.s[i:])
		var low string
		switch {
		case r == utf8.RuneError && size <= 1:
			low = n.s[i : i+size]
		case r == 'İ':
			low = "i\u0307"
		case r == 'Σ' && finalSigma(n.s, i, i+size):
			low = "ς"
		default:
			low = string(unicode.ToLower(r))
		}
		if low == n.s[i:i+size] {
			w.keep(n, i, i+size)
		} else {
			w.add(low, n.cover(i, i+size))
		}
		i += size
	}
	return w.text()
}

// finalSigma is Unicode's Final_Sigma condition for the Σ at s[i:j]: a
// cased letter before it and none after it, skipping case-ignorable runes.
func finalSigma(s string, i, j int) bool {
	before := false
	for k := i; k > 0; {
		r, w := utf8.DecodeLastRuneInString(s[:k])
		k -= w
		if !caseIgnorable(r) {
			before = cased(r)
			break
		}
	}
	if !before {
		return false
	}
	for k := j; k < len(s); {
		r, w := utf8.DecodeRuneInString(s[k:])
		k += w
		if !caseIgnorable(r) {
			return !cased(r)
		}
	}
	return true
}

func cased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

func caseIgnorable(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk) ||
		strings.ContainsRune("'.:·‘’․‧︓﹒﹕＇．：", r)
}

// replaceAll replaces every match of m by content; each replacement
// comes from the bytes it replaces.
func replaceAll(m matcher, content string) normalizer {
	return func(n ntext) ntext {
		ms := m(n.s)
		if len(ms) == 0 {
			return n
		}
		w := sized(len(n.s) + len(ms)*len(content))
		p := 0
		for _, r := range ms {
			w.keep(n, p, r[0])
			w.add(content, n.cover(r[0], r[1]))
			p = r[1]
		}
		w.keep(n, p, len(n.s))
		return w.text()
	}
}

// prepend is the Prepend normalizer: s before non-empty text, with the
// empty span at the text's start.
func prepend(s string) normalizer {
	return func(n ntext) ntext {
		if n.s == "" {
			return n
		}
		w := sized(len(s) + len(n.s))
		w.add(s, n.cover(0, 0))
		w.keep(n, 0, len(n.s))
		return w.text()
	}
}

// strip is the Strip normalizer: white space off the left and/or right.
func strip(left, right bool) normalizer {
	return func(n ntext) ntext {
		i, j := 0, len(n.s)
		if left {
			i = len(n.s) - len(strings.TrimLeftFunc(n.s, unicode.IsSpace))
		}
		if right {
			j = i + len(strings.TrimRightFunc(n.s[i:], unicode.IsSpace))
		}
		return n.sub(i, j)
	}
}
