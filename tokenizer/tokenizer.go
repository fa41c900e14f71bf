// Package tokenizer turns text into token ids and back, exactly as the
// reference implementations of GPT-2's byte-level BPE (vocab.json +
// merges.txt) and of Hugging Face's tokenizer.json do. A tokenizer.json
// may be byte-level BPE (GPT-2, Qwen, Llama 3: a fast path whose pieces
// are raw bytes) or SentencePiece-style BPE with ▁ and <0xNN> byte
// fallback (Llama 2, TinyLlama), with the normalizers, pre-tokenizers
// and decoders LoadJSON lists; a component or option it does not
// implement is refused with an error naming it, never approximated.
//
// Encode gives each token's byte span in the caller's text, before any
// normalization: a token made of rewritten text spans what it was
// rewritten from (so tokens inside one rewritten segment may share a
// span), a ▁ the tokenizer inserts has the empty span where it went, and
// spans never go backwards. The pre-tokenizers' regular expressions of
// GPT-2, Qwen and Llama 3 are hand-written scanners (Go's regexp has no
// look-ahead); other patterns run on Go's regexp when they need no
// look-around. TrainBPE learns a GPT-2-style byte-level BPE from a text,
// and WriteJSON/SaveJSON write a byte-level tokenizer as a tokenizer.json
// that LoadJSON, Hugging Face's tokenizers and transformers.js read. A
// Tokenizer is safe for concurrent use. Standard library only, plus
// golang.org/x/text for Unicode normalization.
package tokenizer

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// BOS says whether Encode puts the beginning-of-sequence token first.
// Its zero value is invalid: every caller chooses.
type BOS int

const (
	_ BOS = iota
	// BOSNever never prepends a BOS token.
	BOSNever
	// BOSAlways prepends the tokenizer's BOS token; a tokenizer without one is an error.
	BOSAlways
	// BOSAuto does what the tokenizer's own configuration says (GPT-2: none).
	BOSAuto
)

// ParseBOS reads "never", "always" or "auto".
func ParseBOS(s string) (BOS, error) {
	switch s {
	case "never":
		return BOSNever, nil
	case "always":
		return BOSAlways, nil
	case "auto":
		return BOSAuto, nil
	}
	return 0, fmt.Errorf("tokenizer: unknown BOS policy %q (want never, always or auto)", s)
}

func (b BOS) String() string {
	switch b {
	case BOSNever:
		return "never"
	case BOSAlways:
		return "always"
	case BOSAuto:
		return "auto"
	}
	return fmt.Sprintf("BOS(%d)", int(b))
}

// Options of one Encode call. BOS has no default.
type Options struct {
	// Special lets the text of special tokens (e.g. "<|endoftext|>") be
	// encoded as those tokens; otherwise it is plain text. Added tokens
	// that are not special (Qwen3's <think>, <tool_call>, …) are always
	// matched, as Hugging Face's tokenizers and transformers.js do.
	Special bool
	BOS     BOS
}

// Span is a token's byte range [Start, End) in the encoded text.
type Span struct{ Start, End int }

// Encoding is the result of Encode. A BOS token added by the policy has
// the empty span at 0.
type Encoding struct {
	IDs   []int
	Spans []Span
}

type added struct {
	content string
	id      int
	special bool
}

type pair struct{ a, b int32 }

type merge struct{ rank, id int32 }

// Tokenizer is a loaded byte-level BPE tokenizer. It is safe for
// concurrent use: Encode keeps its cache per call.
type Tokenizer struct {
	pieces    []string       // id -> raw bytes of the token
	ids       map[string]int // raw bytes -> id
	byteID    [256]int32     // single byte -> id
	merges    map[pair]merge
	split     splitter
	pattern   string // the regex split implements (byte-level fast path)
	nfc       bool
	added     []added   // longest first
	firstByte [256]bool // first bytes of added tokens
	bos       int       // -1: none
	autoBOS   bool      // BOSAuto prepends bos
	pipe      *pipeline // non-nil: not the byte-level fast path
	// ignoreMerges: a pre-token that is itself in the vocabulary is that
	// token, merges or not (Llama 3)
	ignoreMerges bool
}

// VocabSize is one more than the largest id.
func (t *Tokenizer) VocabSize() int { return len(t.pieces) }

// BOSID returns the BOS token's id, or -1 when the tokenizer has none.
func (t *Tokenizer) BOSID() int { return t.bos }

// AutoBOS reports whether BOSAuto prepends a BOS token for this tokenizer.
func (t *Tokenizer) AutoBOS() bool { return t.autoBOS }

// Piece returns the text of token id: its raw bytes for byte-level BPE;
// otherwise what the decoders make of it alone, bytes as they are and
// nothing stripped (SentencePiece's "▁the" is " the", "<0x0A>" is "\n").
func (t *Tokenizer) Piece(id int) (string, error) {
	if id < 0 || id >= len(t.pieces) {
		return "", fmt.Errorf("tokenizer: id %d out of range [0, %d)", id, len(t.pieces))
	}
	return t.pieces[id], nil
}

// Decode turns ids back into text: for byte-level BPE the tokens'
// bytes, concatenated; otherwise through the tokenizer.json's decoders.
func (t *Tokenizer) Decode(ids []int) (string, error) {
	var b strings.Builder
	for _, id := range ids {
		p, err := t.Piece(id)
		if err != nil {
			return "", err
		}
		b.WriteString(p)
	}
	if t.pipe != nil {
		return t.pipe.decode(ids), nil
	}
	return b.String(), nil
}

// Encode tokenizes text.
func (t *Tokenizer) Encode(text string, opt Options) (Encoding, error) {
	// about four bytes a token in English: preallocating spares the copies of growth
	enc := Encoding{IDs: make([]int, 0, len(text)/4+2), Spans: make([]Span, 0, len(text)/4+2)}
	switch opt.BOS {
	case BOSNever:
	case BOSAlways, BOSAuto:
		if opt.BOS == BOSAuto && !t.autoBOS {
			break
		}
		if t.bos < 0 {
			return Encoding{}, errors.New("tokenizer: BOS policy always, but the tokenizer has no BOS token")
		}
		enc.IDs = append(enc.IDs, t.bos)
		enc.Spans = append(enc.Spans, Span{0, 0})
	default:
		return Encoding{}, fmt.Errorf("tokenizer: BOS policy not set (%v): choose never, always or auto", opt.BOS)
	}
	cache := map[string][]int32{}
	var scratch []int32
	start := 0
	for i := 0; i <= len(text); {
		var a *added
		if i < len(text) && t.firstByte[text[i]] {
			a = t.matchAdded(text[i:], opt.Special)
		}
		if i == len(text) || a != nil {
			if err := t.encodePlain(text[start:i], start, &enc, cache, &scratch); err != nil {
				return Encoding{}, err
			}
			if a == nil {
				break
			}
			enc.IDs = append(enc.IDs, a.id)
			enc.Spans = append(enc.Spans, Span{i, i + len(a.content)})
			i += len(a.content)
			start = i
			continue
		}
		i++
	}
	return enc, nil
}

// matchAdded returns the added token that s starts with, longest first:
// special tokens only when allowed.
func (t *Tokenizer) matchAdded(s string, special bool) *added {
	for k := range t.added {
		a := &t.added[k]
		if (special || !a.special) && strings.HasPrefix(s, a.content) {
			return a
		}
	}
	return nil
}

// encodePlain encodes text that holds no added token; off is its offset
// in the caller's input.
func (t *Tokenizer) encodePlain(text string, off int, enc *Encoding, cache map[string][]int32, scratch *[]int32) error {
	if text == "" {
		return nil
	}
	if t.pipe != nil {
		return t.pipe.encode(text, off, enc)
	}
	if t.nfc && !norm.NFC.IsNormalString(text) {
		return t.encodeNormalized(text, off, enc, cache, scratch)
	}
	for i := 0; i < len(text); {
		j := t.split(text, i)
		word := text[i:j]
		toks, ok := cache[word]
		if !ok {
			if id, whole := t.wholeWord(word); whole {
				toks = []int32{id}
			} else {
				toks = t.bpe(word, scratch)
			}
			if len(cache) < 1<<16 {
				cache[word] = toks
			}
		}
		p := off + i
		for _, id := range toks {
			n := len(t.pieces[id])
			enc.IDs = append(enc.IDs, int(id))
			enc.Spans = append(enc.Spans, Span{p, p + n})
			p += n
		}
		i = j
	}
	return nil
}

// encodeNormalized NFC-normalizes text segment by segment and encodes the
// result; a token's span is the union of the original segments its bytes
// come from, so tokens inside one recomposed segment share its span.
func (t *Tokenizer) encodeNormalized(text string, off int, enc *Encoding, cache map[string][]int32, scratch *[]int32) error {
	var it norm.Iter
	it.InitString(norm.NFC, text)
	var normed []byte
	var segN, segO []int // segment starts in normed and in text
	for !it.Done() {
		o := it.Pos()
		seg := it.Next()
		segN = append(segN, len(normed))
		segO = append(segO, o)
		normed = append(normed, seg...)
	}
	segN = append(segN, len(normed))
	segO = append(segO, len(text))
	var sub Encoding
	nt := *t
	nt.nfc = false
	if err := nt.encodePlain(string(normed), 0, &sub, cache, scratch); err != nil {
		return err
	}
	orig := func(n int, end bool) int {
		k := sort.SearchInts(segN, n) // first segment start >= n
		if k < len(segN) && segN[k] == n {
			return segO[k]
		}
		if end {
			return segO[k]
		}
		return segO[k-1]
	}
	for k, id := range sub.IDs {
		enc.IDs = append(enc.IDs, id)
		enc.Spans = append(enc.Spans, Span{off + orig(sub.Spans[k].Start, false), off + orig(sub.Spans[k].End, true)})
	}
	return nil
}

// wholeWord is the token of a pre-token in the vocabulary, when
// ignore_merges says to take it whole.
func (t *Tokenizer) wholeWord(word string) (int32, bool) {
	if !t.ignoreMerges {
		return 0, false
	}
	id, ok := t.ids[word]
	return int32(id), ok
}

// bpe applies the merges to one pre-token, lowest rank first.
func (t *Tokenizer) bpe(word string, scratch *[]int32) []int32 {
	if len(word) >= longWord {
		return t.bpeHeap(word)
	}
	return t.bpeLoop(word, scratch)
}

// bpeLoop merges by rescanning the word after each merge: fastest for the
// short words that are nearly all of any text.
func (t *Tokenizer) bpeLoop(word string, scratch *[]int32) []int32 {
	s := (*scratch)[:0]
	for i := 0; i < len(word); i++ {
		s = append(s, t.byteID[word[i]])
	}
	for len(s) > 1 {
		best, at := merge{rank: -1}, -1
		for k := 0; k+1 < len(s); k++ {
			if m, ok := t.merges[pair{s[k], s[k+1]}]; ok && (best.rank < 0 || m.rank < best.rank) {
				best, at = m, k
			}
		}
		if at < 0 {
			break
		}
		// merge every occurrence of the pair, left to right
		a, b := s[at], s[at+1]
		w := at
		for k := at; k < len(s); {
			if k+1 < len(s) && s[k] == a && s[k+1] == b {
				s[w] = best.id
				k += 2
			} else {
				s[w] = s[k]
				k++
			}
			w++
		}
		s = s[:w]
	}
	*scratch = s
	return append([]int32(nil), s...)
}
