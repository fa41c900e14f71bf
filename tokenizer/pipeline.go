package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// pipeline is a tokenizer.json outside the byte-level fast path:
// normalizers, pre-tokenizers and a BPE model over the runes of the
// vocabulary's own strings (SentencePiece-style ▁ pieces, <0xNN> byte
// fallback, an unknown token), and the decoders that turn tokens back
// into text. Each step is Hugging Face tokenizers' (and transformers.js')
// step of the same name.
type pipeline struct {
	norm   []normalizer
	pre    []pretok
	model  bpeModel
	dec    decoder // nil: tokens joined by spaces
	tokens []string
	// hasDigits: a Digits pre-tokenizer, whose digits are Unicode's
	// (Hugging Face), not ASCII's (transformers.js)
	hasDigits bool
}

// bpeModel is BPE over runes.
type bpeModel struct {
	vocab        map[string]int
	merges       map[pair]merge
	unk          int32 // -1: none
	byteTok      [256]int32
	byteFallback bool
	fuseUnk      bool
	ignoreMerges bool
}

// encode normalizes, pre-tokenizes and encodes a section of text that
// holds no added token; off is its offset in the caller's input.
func (p *pipeline) encode(text string, off int, enc *Encoding) error {
	n := plainText(text, off)
	for _, f := range p.norm {
		n = f(n)
	}
	pieces := []ntext{n}
	for _, f := range p.pre {
		var next []ntext
		for _, q := range pieces {
			next = f(next, q)
		}
		pieces = next
	}
	first := len(enc.Spans)
	for _, q := range pieces {
		if err := p.model.encode(q, enc); err != nil {
			return err
		}
	}
	// A ▁ inserted before a piece cut out of one rewritten segment has the
	// empty span at the segment's start, before the end of the token
	// ahead of it: such a token shares the segment's span instead.
	for k := max(first, 1); k < len(enc.Spans); k++ {
		sp, prev := &enc.Spans[k], enc.Spans[k-1]
		sp.Start, sp.End = max(sp.Start, prev.Start), max(sp.End, prev.End)
	}
	return nil
}

// hasBytes reports whether every byte of s has a <0xNN> token.
func (m *bpeModel) hasBytes(s string) bool {
	if !m.byteFallback {
		return false
	}
	for i := 0; i < len(s); i++ {
		if m.byteTok[s[i]] < 0 {
			return false
		}
	}
	return true
}

// encode applies the model to one pre-token: each rune its token, or
// its bytes' <0xNN> tokens (byte_fallback), or the unknown token (one
// for a run with fuse_unk); then the merges, lowest rank first.
func (m *bpeModel) encode(n ntext, enc *Encoding) error {
	if n.s == "" {
		return nil
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[n.s]; ok {
			enc.IDs = append(enc.IDs, id)
			enc.Spans = append(enc.Spans, n.cover(0, len(n.s)))
			return nil
		}
	}
	ids := make([]int32, 0, len(n.s))
	sp := make([]Span, 0, len(n.s))
	for i := 0; i < len(n.s); {
		_, w := utf8.DecodeRuneInString(n.s[i:])
		ch := n.s[i : i+w]
		switch id, ok := m.vocab[ch]; {
		case ok:
			ids = append(ids, int32(id))
			sp = append(sp, n.cover(i, i+w))
		case m.hasBytes(ch):
			for k := i; k < i+w; k++ {
				ids = append(ids, m.byteTok[n.s[k]])
				sp = append(sp, n.org[k])
			}
		case m.unk >= 0 && m.fuseUnk && len(ids) > 0 && ids[len(ids)-1] == m.unk:
			sp[len(sp)-1].End = n.cover(i, i+w).End
		case m.unk >= 0:
			ids = append(ids, m.unk)
			sp = append(sp, n.cover(i, i+w))
		default:
			return fmt.Errorf("tokenizer: %q has no token, and the model has neither byte_fallback nor unk_token", ch)
		}
		i += w
	}
	out, first := mergeHeap(ids, m.merges)
	enc.IDs = slices.Grow(enc.IDs, len(out))
	enc.Spans = slices.Grow(enc.Spans, len(out))
	for k, id := range out {
		end := len(sp)
		if k+1 < len(first) {
			end = int(first[k+1])
		}
		enc.IDs = append(enc.IDs, int(id))
		enc.Spans = append(enc.Spans, Span{sp[first[k]].Start, sp[end-1].End})
	}
	return nil
}

// decode turns ids into text through the decoders.
func (p *pipeline) decode(ids []int) string {
	toks := make([]string, len(ids))
	for k, id := range ids {
		toks[k] = p.tokens[id]
	}
	if p.dec == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(p.dec(toks, false), "")
}

// piece is the text of one token: the decoders applied to it alone, its
// bytes as they are and nothing stripped.
func (p *pipeline) piece(id int) string {
	if p.dec == nil {
		return p.tokens[id]
	}
	return strings.Join(p.dec([]string{p.tokens[id]}, true), "")
}

// A decoder rewrites the list of token strings. With piece, it shows one
// token by itself: bytes are left as they are (not made valid UTF-8) and
// nothing that depends on the token's place is stripped.
type decoder func(toks []string, piece bool) []string

func sequenceDec(ds []decoder) decoder {
	return func(toks []string, piece bool) []string {
		for _, d := range ds {
			toks = d(toks, piece)
		}
		return toks
	}
}

// byteLevelDec maps GPT-2's byte alphabet back to bytes, run by run of
// tokens that are not added tokens (those stay as they are), and reads
// the bytes as UTF-8 with U+FFFD for invalid sequences.
func byteLevelDec(isAdded func(string) bool) decoder {
	_, dec := byteLevel()
	return func(toks []string, piece bool) []string {
		var out []string
		var buf []byte
		flush := func() {
			if len(buf) > 0 {
				out = append(out, utf8Text(buf, piece))
				buf = buf[:0]
			}
		}
		for _, t := range toks {
			if isAdded(t) {
				flush()
				out = append(out, t)
				continue
			}
			raw, err := fromByteLevel(t, dec)
			if err != nil {
				raw = t // not byte-level: its bytes as they are
			}
			buf = append(buf, raw...)
		}
		flush()
		return out
	}
}

// byteFallbackDec turns runs of <0xNN> tokens into their bytes, read as
// UTF-8 with U+FFFD for invalid sequences.
func byteFallbackDec(toks []string, piece bool) []string {
	var out []string
	var buf []byte
	for _, t := range toks {
		if b, ok := byteToken(t); ok {
			buf = append(buf, b)
			continue
		}
		if len(buf) > 0 {
			out = append(out, utf8Text(buf, piece))
			buf = buf[:0]
		}
		out = append(out, t)
	}
	if len(buf) > 0 {
		out = append(out, utf8Text(buf, piece))
	}
	return out
}

// byteToken reads a byte-fallback token <0xNN>.
func byteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	var b byte
	for _, c := range []byte(t[3:5]) {
		switch {
		case c >= '0' && c <= '9':
			b = b<<4 | (c - '0')
		case c >= 'A' && c <= 'F':
			b = b<<4 | (c - 'A' + 10)
		case c >= 'a' && c <= 'f':
			b = b<<4 | (c - 'a' + 10)
		default:
			return 0, false
		}
	}
	return b, true
}

func fuseDec(toks []string, _ bool) []string { return []string{strings.Join(toks, "")} }

// metaspaceDec turns rep back into spaces and, unless the scheme is
// never, drops the space it put before the first token.
func metaspaceDec(rep string, stripFirst bool) decoder {
	return func(toks []string, piece bool) []string {
		out := make([]string, len(toks))
		for k, t := range toks {
			t = strings.ReplaceAll(t, rep, " ")
			if k == 0 && stripFirst && !piece {
				t = strings.TrimPrefix(t, " ")
			}
			out[k] = t
		}
		return out
	}
}

// stripDec removes up to start copies of content from the start of each
// token and up to stop from its end.
func stripDec(content rune, start, stop int) decoder {
	return func(toks []string, piece bool) []string {
		if piece {
			return toks
		}
		out := make([]string, len(toks))
		for k, t := range toks {
			for n := 0; n < start; n++ {
				r, w := utf8.DecodeRuneInString(t)
				if w == 0 || r != content {
					break
				}
				t = t[w:]
			}
			for n := 0; n < stop; n++ {
				r, w := utf8.DecodeLastRuneInString(t)
				if w == 0 || r != content {
					break
				}
				t = t[:len(t)-w]
			}
			out[k] = t
		}
		return out
	}
}

// replaceDec replaces the matches of m in each token by content.
func replaceDec(m matcher, content string) decoder {
	return func(toks []string, _ bool) []string {
		out := make([]string, len(toks))
		for k, t := range toks {
			out[k] = replaceAll(m, content)(plainText(t, 0)).s
		}
		return out
	}
}

// utf8Text reads b as UTF-8, each maximal invalid subpart becoming one
// U+FFFD (WHATWG's and Rust's lossy decoding); with raw, b as it is.
func utf8Text(b []byte, raw bool) string {
	if raw || utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for i := 0; i < len(b); {
		r, w := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || w > 1 {
			sb.Write(b[i : i+w])
			i += w
			continue
		}
		sb.WriteRune(utf8.RuneError)
		i += invalidRun(b[i:])
	}
	return sb.String()
}

// invalidRun is the length of the maximal subpart at the start of b,
// which starts no valid rune: its first byte and the continuation bytes
// that could still have completed it.
func invalidRun(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF)
	need := 0
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	}
	n := 1
	for ; n <= need && n < len(b); n++ {
		if b[n] < lo || b[n] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return n
}
