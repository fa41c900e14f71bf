package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

type jsCases struct {
	Source     string   `json:"source"`
	Tokenizers []string `json:"tokenizers"`
	Cases      []struct {
		Text    string            `json:"text"`
		IDs     map[string][]int  `json:"ids"`
		Decoded map[string]string `json:"decoded"`
	} `json:"cases"`
}

func loadJSCases(t *testing.T) jsCases {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "spm", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f jsCases
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 350 || len(f.Tokenizers) < 7 {
		t.Fatalf("expected.json holds %d cases of %d tokenizers, want at least 350 of 7", len(f.Cases), len(f.Tokenizers))
	}
	return f
}

func loadSPM(t *testing.T, name string) *Tokenizer {
	t.Helper()
	tok, err := LoadJSON(filepath.Join("testdata", "spm", name+".json"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tok
}

// exactSpans are the tokenizers whose normalization only inserts ▁ or
// turns spaces into it: each token's span holds exactly its piece (less
// the leading space of an inserted ▁).
var exactSpans = map[string]bool{"spm-legacy": true, "spm-metaspace": true, "bytelevel-llama3": true}

// TestTransformersJS compares ids and decoded strings with those of
// transformers.js' tokenizer (testdata/spm/gen.mjs) on every case for
// each of our small tokenizer.json files: SentencePiece-style BPE with
// ▁ and byte_fallback (Llama 2's legacy normalizers, and the Metaspace
// pre-tokenizer), unknown tokens fused, NFKC/NFD/NFKD, Lowercase,
// Replace, Strip, Digits, Split with Go-compiled and scanner regexes,
// WhitespaceSplit, ByteLevel with add_prefix_space, ignore_merges, and
// the decoders. Spans are checked too.
func TestTransformersJS(t *testing.T) {
	f := loadJSCases(t)
	for _, name := range f.Tokenizers {
		tok := loadSPM(t, name)
		n, skipped := 0, 0
		for _, c := range f.Cases {
			want, ok := c.IDs[name]
			if !ok {
				t.Fatalf("%s: case %q has no ids", name, c.Text)
			}
			if diverges(name, tok, c.Text) {
				skipped++
				continue
			}
			enc, err := tok.Encode(c.Text, Options{Special: true, BOS: BOSNever})
			if err != nil {
				t.Errorf("%s %q: %v", name, c.Text, err)
				continue
			}
			if !slices.Equal(enc.IDs, want) {
				t.Errorf("%s %q:\n got %v\nwant %v", name, c.Text, enc.IDs, want)
				continue
			}
			back, err := tok.Decode(enc.IDs)
			if err != nil || back != c.Decoded[name] {
				t.Errorf("%s: Decode(Encode(%q)) = %q, %v; transformers.js %q", name, c.Text, back, err, c.Decoded[name])
			}
			checkSpans(t, tok, name, c.Text, enc)
			n++
		}
		t.Logf("%s: %d cases exact, %d left out (see diverges)", name, n, skipped)
		if n < 150 {
			t.Errorf("%s: only %d of %d cases compared", name, n, len(f.Cases))
		}
	}
}

// diverges reports the cases where transformers.js departs from
// Hugging Face's tokenizers, which this package follows: the Digits
// pre-tokenizer takes char::is_numeric (①, ², ٣ are digits) where
// transformers.js takes ASCII \d, so text that, normalized, holds such a
// rune; and the Whitespace pre-tokenizer's \w is Unicode's, ASCII's in
// transformers.js, so spm-whitespace compares on ASCII text only.
func diverges(name string, tok *Tokenizer, s string) bool {
	if name == "spm-whitespace" {
		for _, r := range s {
			if r > unicode.MaxASCII {
				return true
			}
		}
		return false
	}
	if tok.pipe == nil || !tok.pipe.hasDigits {
		return false
	}
	n := plainText(s, 0)
	for _, f := range tok.pipe.norm {
		n = f(n)
	}
	for _, r := range n.s {
		if r > unicode.MaxASCII && unicode.IsNumber(r) {
			return true
		}
	}
	return false
}

// checkSpans: spans are ordered (starts and ends never decrease), within
// the text, and cover every byte that is not white space (which
// normalizers may drop); for exactSpans tokenizers each span holds its
// token's piece; without a normalizer, a span's text (when it is whole
// runes) encodes alone to its token.
func checkSpans(t *testing.T, tok *Tokenizer, name, s string, enc Encoding) {
	t.Helper()
	covered := make([]bool, len(s))
	var prev Span
	for k, sp := range enc.Spans {
		if sp.Start < prev.Start || sp.End < prev.End || sp.Start > sp.End || sp.End > len(s) {
			t.Errorf("%s %q: token %d span %v after %v", name, s, k, sp, prev)
			return
		}
		for i := sp.Start; i < sp.End; i++ {
			covered[i] = true
		}
		prev = sp
		if name == "bytelevel-llama3" && utf8.ValidString(s[sp.Start:sp.End]) {
			// no normalizer: a token's text, encoded alone, is that token
			re, err := tok.Encode(s[sp.Start:sp.End], never)
			if err != nil || len(re.IDs) != 1 || re.IDs[0] != enc.IDs[k] {
				t.Errorf("%s %q: token %d (id %d) holds %q, which encodes to %v, %v", name, s, k, enc.IDs[k], s[sp.Start:sp.End], re.IDs, err)
			}
		}
		if !exactSpans[name] {
			continue
		}
		piece, err := tok.Piece(enc.IDs[k])
		if err != nil {
			t.Fatal(err)
		}
		// a ▁ typed in the text reads as a space; one the tokenizer put
		// first (at 0, or after an added token) has the empty span
		got := strings.ReplaceAll(s[sp.Start:sp.End], "▁", " ")
		first := sp.Start == 0 || k > 0 && tok.addedID(tok.pieces[enc.IDs[k-1]]) == enc.IDs[k-1]
		if got != piece && !(first && " "+got == piece) {
			t.Errorf("%s %q: token %d (id %d, piece %q) has span %v holding %q", name, s, k, enc.IDs[k], piece, sp, got)
		}
	}
	for i, r := range s {
		if !covered[i] && !unicode.IsSpace(r) {
			t.Errorf("%s %q: byte %d (%q) is in no span; spans %v", name, s, i, r, enc.Spans)
			return
		}
	}
}

// TestRoundTrip: for the tokenizers that lose nothing, Decode(Encode(s))
// is s itself, but that a ▁ typed in the text comes back as a space, and
// that prepend_scheme first puts no ▁ before a text that starts with a
// space while its decoder still drops the first one.
func TestRoundTrip(t *testing.T) {
	f := loadJSCases(t)
	for _, name := range []string{"spm-legacy", "spm-metaspace", "bytelevel-llama3"} {
		tok := loadSPM(t, name)
		for _, c := range f.Cases {
			enc, err := tok.Encode(c.Text, Options{BOS: BOSNever})
			if err != nil {
				t.Fatal(err)
			}
			back, err := tok.Decode(enc.IDs)
			want := c.Text
			if name != "bytelevel-llama3" {
				want = strings.ReplaceAll(want, "▁", " ")
			}
			if name == "spm-metaspace" && strings.HasPrefix(want, " ") {
				want = want[1:]
			}
			if err != nil || back != want {
				t.Errorf("%s: Decode(Encode(%q)) = %q, %v", name, c.Text, back, err)
			}
		}
	}
}

// TestByteFallback: a rune outside the vocabulary becomes its UTF-8
// bytes' <0xNN> tokens, each spanning its own byte, and decodes back;
// without byte_fallback it is one <unk>, a run of them one fused <unk>.
func TestByteFallback(t *testing.T) {
	tok := loadSPM(t, "spm-legacy")
	s := "a☃"
	enc, err := tok.Encode(s, never)
	if err != nil {
		t.Fatal(err)
	}
	var bytes []int
	for _, b := range []byte("☃") {
		bytes = append(bytes, 3+int(b))
	}
	if n := len(enc.IDs); n < 3 || !slices.Equal(enc.IDs[n-3:], bytes) {
		t.Fatalf("%q: %v, want it to end with %v", s, enc.IDs, bytes)
	}
	for k, sp := range enc.Spans[len(enc.Spans)-3:] {
		if want := (Span{1 + k, 2 + k}); sp != want {
			t.Errorf("%q: byte token %d span %v, want %v", s, k, sp, want)
		}
	}
	if back, err := tok.Decode(enc.IDs); err != nil || back != s {
		t.Errorf("Decode = %q, %v, want %q", back, err, s)
	}
	unk := loadSPM(t, "spm-unk-nfkc")
	enc, err = unk.Encode("☃♞⚡", never)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(enc.IDs); n == 0 || enc.IDs[n-1] != 0 || slices.Contains(enc.IDs[:n-1], 0) || enc.Spans[n-1] != (Span{0, len("☃♞⚡")}) {
		t.Errorf("three unknown runes: %v %v, want one fused <unk> spanning them", enc.IDs, enc.Spans)
	}
}

// TestSplitBehaviors checks Split's delimiter behaviors on the example
// of Hugging Face's documentation ("the-final--countdown", delimiter
// "-"), and invert.
func TestSplitBehaviors(t *testing.T) {
	const s = "the-final--countdown"
	for _, tc := range []struct {
		behavior string
		invert   bool
		want     []string
	}{
		{"Removed", false, []string{"the", "final", "countdown"}},
		{"Isolated", false, []string{"the", "-", "final", "-", "-", "countdown"}},
		{"MergedWithPrevious", false, []string{"the-", "final-", "-", "countdown"}},
		{"MergedWithNext", false, []string{"the", "-final", "-", "-countdown"}},
		{"Contiguous", false, []string{"the", "-", "final", "--", "countdown"}},
		{"Removed", true, []string{"-", "-", "-"}},
		{"Isolated", true, []string{"the", "-", "final", "-", "-", "countdown"}},
		{"MergedWithPrevious", true, []string{"the", "-final", "-", "-countdown"}},
	} {
		var got []string
		for _, p := range splitPieces(nil, plainText(s, 0), literal("-"), tc.behavior, tc.invert) {
			got = append(got, p.s)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s invert %v: %q, want %q", tc.behavior, tc.invert, got, tc.want)
		}
	}
}

// TestMetaspaceSplit: with split, each ▁ starts a piece (Hugging Face's
// MergedWithNext); prepend_scheme first prepends only at offset 0.
func TestMetaspaceSplit(t *testing.T) {
	for _, tc := range []struct {
		scheme string
		off    int
		in     string
		want   []string
	}{
		{"always", 5, "Hey  friend", []string{"▁Hey", "▁", "▁friend"}},
		{"first", 0, "Hey friend", []string{"▁Hey", "▁friend"}},
		{"first", 3, "Hey friend", []string{"Hey", "▁friend"}},
		{"never", 0, "Hey friend ", []string{"Hey", "▁friend", "▁"}},
	} {
		var got []string
		for _, p := range metaspace("▁", tc.scheme, true)(nil, plainText(tc.in, tc.off)) {
			got = append(got, p.s)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s at %d %q: %q, want %q", tc.scheme, tc.off, tc.in, got, tc.want)
		}
	}
	// Hugging Face's own test of Metaspace: "Hey   friend!" gives these
	// pieces with these byte offsets in the original text
	want := []Span{{0, 3}, {3, 4}, {4, 5}, {5, 13}}
	var got []Span
	for _, p := range metaspace("▁", "always", true)(nil, plainText("Hey   friend!", 0)) {
		got = append(got, p.cover(0, len(p.s)))
	}
	if !slices.Equal(got, want) {
		t.Errorf("\"Hey   friend!\" spans %v, want %v", got, want)
	}
}

// TestTemplateBOS: Llama 2's TemplateProcessing ([<s>, A]) makes <s> the
// BOS that auto adds, with the empty span; so does Llama 3's, inside a
// Sequence, and that tokenizer (ignore_merges and all) takes the
// byte-level fast path, which TestTransformersJS then checks.
func TestTemplateBOS(t *testing.T) {
	tok := loadSPM(t, "spm-legacy")
	if tok.BOSID() != 1 || !tok.AutoBOS() {
		t.Fatalf("BOS %d auto %v, want 1, true", tok.BOSID(), tok.AutoBOS())
	}
	enc, err := tok.Encode("hi", Options{BOS: BOSAuto})
	if err != nil || len(enc.IDs) < 2 || enc.IDs[0] != 1 || enc.Spans[0] != (Span{}) {
		t.Errorf("auto: %v %v %v, want <s> first", enc.IDs, enc.Spans, err)
	}
	if tok := loadSPM(t, "spm-metaspace"); tok.BOSID() != -1 || tok.AutoBOS() {
		t.Errorf("no template: BOS %d auto %v, want -1, false", tok.BOSID(), tok.AutoBOS())
	}
	// Llama 3's Sequence of ByteLevel and the template, on the fast path
	l3 := loadSPM(t, "bytelevel-llama3")
	if p, _ := l3.Piece(l3.BOSID()); p != "<|begin_of_text|>" || !l3.AutoBOS() || l3.pipe != nil {
		t.Errorf("llama3: BOS %q auto %v general path %v, want <|begin_of_text|>, true, false", p, l3.AutoBOS(), l3.pipe != nil)
	}
}

// TestPatternTranslation: regexes Go can run are translated with
// Oniguruma's Unicode \s, \d, \w; look-around and the rest are refused
// naming the pattern; the known patterns are the scanners.
func TestPatternTranslation(t *testing.T) {
	for _, tc := range []struct {
		re, in string
		want   []string
	}{
		{`\s+`, "a\u00a0\u3000b  c", []string{"\u00a0\u3000", "  "}},
		{`\d+`, "x٣4y", []string{"٣4"}},
		{`\w+`, "héllo, wörld_1", []string{"héllo", "wörld_1"}},
		{`[^\s,]+`, "a,b\u2028c", []string{"a", "b", "c"}},
		{`^x`, "x\nx", []string{"x", "x"}},
		{`[\u3000-\u303F]+|\u00e9`, "a、。é", []string{"、。", "é"}},
	} {
		m, err := compilePattern(tc.re, "test")
		if err != nil {
			t.Fatalf("%q: %v", tc.re, err)
		}
		var got []string
		for _, r := range m(tc.in) {
			got = append(got, tc.in[r[0]:r[1]])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q on %q: %q, want %q", tc.re, tc.in, got, tc.want)
		}
	}
	for _, re := range []string{`\s+(?!\S)`, `(?<=a)b`, `\bword\b`, `(a)\1`, `a*`, `[\S]`, `(?>ab)`, `\u12`, `a++`} {
		if _, err := compilePattern(re, "test"); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", re)) {
			t.Errorf("%q: err %v, want a refusal naming it", re, err)
		}
	}
	for _, re := range []string{gpt2Pattern, qwenPattern, llama3Pattern} {
		if _, err := compilePattern(re, "test"); err != nil {
			t.Errorf("known pattern refused: %v", err)
		}
	}
}

// TestLowercaseSpecial: İ lowers to i and a combining dot; Σ lowers to
// ς at a word's end only (the expected strings are node's toLowerCase);
// spans of the rewritten runes are theirs.
func TestLowercaseSpecial(t *testing.T) {
	for in, want := range map[string]string{"İx": "i\u0307x", "ΟΔΟΣ.": "οδος.", "ΣΑ": "σα", "Σ": "σ", "ΑΣ'Σ": "ασ'ς", "Σ.Σ": "σ.ς", "AΣ\u0301": "aς\u0301", "ABC": "abc"} {
		got := lowercase(plainText(in, 0))
		if got.s != want {
			t.Errorf("lowercase(%q) = %q, want %q", in, got.s, want)
		}
		if len(got.org) != len(got.s) || got.cover(0, len(got.s)) != (Span{0, len(in)}) {
			t.Errorf("lowercase(%q) spans %v", in, got.org)
		}
	}
	if !utf8.ValidString(lowercase(plainText("\xffA", 0)).s[1:]) {
		t.Error("invalid byte not kept")
	}
}

// TestUTF8Text: invalid bytes decode to one U+FFFD per maximal subpart,
// as WHATWG's TextDecoder and Rust's from_utf8_lossy do.
func TestUTF8Text(t *testing.T) {
	for in, want := range map[string]string{
		"ok": "ok", "\xe2\x98": "\ufffd", "\xe2\x98a": "\ufffda", "\xff\xfe": "\ufffd\ufffd",
		"\xf0\x9f\x98": "\ufffd", "\xed\xa0\x80": "\ufffd\ufffd\ufffd", "\xc3": "\ufffd", "a\xe2\x98\x83": "a☃",
	} {
		if got := utf8Text([]byte(in), false); got != want {
			t.Errorf("utf8Text(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWhitespacePreTokenizers: Whitespace keeps \w+ and [^\w\s]+ runs
// (Hugging Face's documented example, and Unicode letters in a word, as
// Oniguruma's \w has them); WhitespaceSplit drops Unicode white space.
func TestWhitespacePreTokenizers(t *testing.T) {
	for _, tc := range []struct {
		typ, in string
		want    []string
	}{
		{"Whitespace", "Hello! How are you? I'm fine, thank you.",
			[]string{"Hello", "!", "How", "are", "you", "?", "I", "'", "m", "fine", ",", "thank", "you", "."}},
		{"Whitespace", "héllo wörld_1\u3000x", []string{"héllo", "wörld_1", "x"}},
		{"WhitespaceSplit", " a\u00a0b\u2028c  d,e ", []string{"a", "b", "c", "d,e"}},
	} {
		pre, err := parsePreTokenizer(json.RawMessage(`{"type":"`+tc.typ+`"}`), nil, new(bool))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range pre[0](nil, plainText(tc.in, 0)) {
			got = append(got, p.s)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %q: %q, want %q", tc.typ, tc.in, got, tc.want)
		}
	}
}

// FuzzPipeline: for any input, the SentencePiece-style and zoo
// tokenizers encode without error or panic, with ordered spans within
// the text, and spm-legacy decodes valid UTF-8 back to the text (▁ read
// as a space).
func FuzzPipeline(f *testing.F) {
	for _, s := range []string{"Hello, world!", "  a\r\n\tb  ", "☃ 𝔘 \xff\xfe", "e\u0301\u0301x ①²", "<s>x</s>", "ΟΔΟΣ İ"} {
		f.Add(s)
	}
	names := []string{"spm-legacy", "spm-metaspace", "spm-unk-nfkc", "bytelevel-zoo", "spm-split", "spm-whitespace"}
	toks := map[string]*Tokenizer{}
	for _, name := range names {
		tok, err := LoadJSON(filepath.Join("testdata", "spm", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		toks[name] = tok
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, name := range names {
			enc, err := toks[name].Encode(s, Options{BOS: BOSNever})
			if err != nil {
				t.Fatalf("%s %q: %v", name, s, err)
			}
			var prev Span
			for k, sp := range enc.Spans {
				if sp.Start < prev.Start || sp.End < prev.End || sp.Start > sp.End || sp.End > len(s) {
					t.Fatalf("%s %q: token %d span %v after %v", name, s, k, sp, prev)
				}
				prev = sp
			}
			if name != "spm-legacy" || !utf8.ValidString(s) {
				continue
			}
			if back, err := toks[name].Decode(enc.IDs); err != nil || back != strings.ReplaceAll(s, "▁", " ") {
				t.Fatalf("spm-legacy: Decode(Encode(%q)) = %q, %v", s, back, err)
			}
		}
	})
}

// TestIgnoreMerges: the byte-level vocabulary holds whole words no merge
// makes; ignore_merges takes them, in the general pipeline and on the
// fast path (and transformers.js agrees, in TestTransformersJS), the
// merges alone would not.
func TestIgnoreMerges(t *testing.T) {
	for _, name := range []string{"bytelevel-zoo", "bytelevel-llama3"} {
		tok := loadSPM(t, name)
		enc, err := tok.Encode("a tokenization", never)
		if err != nil {
			t.Fatal(err)
		}
		if tok.pipe != nil {
			tok.pipe.model.ignoreMerges = false
		} else {
			tok.ignoreMerges = false
		}
		merged, err := tok.Encode("a tokenization", never)
		if err != nil {
			t.Fatal(err)
		}
		if len(enc.IDs) != 2 || len(merged.IDs) <= 2 {
			t.Errorf("%s: with ignore_merges %v, without %v: want the word as one token only with it", name, enc.IDs, merged.IDs)
		}
	}
}

// BenchmarkEncodeSPM encodes tinyshakespeare with the Llama 2-style
// spm-legacy tokenizer (no pre-tokenizer: the whole text is one BPE
// word); MB/s is input bytes per second.
func BenchmarkEncodeSPM(b *testing.B) {
	tok, err := LoadJSON(filepath.Join("testdata", "spm", "spm-legacy.json"))
	if err != nil {
		b.Fatal(err)
	}
	benchShakespeare(b, tok)
}

// TestPieces: a SentencePiece token's piece is its text with ▁ as a
// space and a byte token as its byte; added tokens are themselves.
func TestPieces(t *testing.T) {
	tok := loadSPM(t, "spm-legacy")
	for _, tc := range []struct {
		token, want string
	}{{"▁the", " the"}, {"<0x0A>", "\n"}, {"<0xE2>", "\xe2"}, {"<s>", "<s>"}, {"▁", " "}} {
		id, ok := tok.pipe.model.vocab[tc.token]
		if !ok {
			t.Fatalf("%q is not in spm-legacy's vocabulary", tc.token)
		}
		if got, err := tok.Piece(id); err != nil || got != tc.want {
			t.Errorf("Piece(%q) = %q, %v, want %q", tc.token, got, err, tc.want)
		}
	}
}

// TestNoUnknownToken: a rune with no token, in a model with neither
// byte_fallback nor unk_token, is an error naming it (Hugging Face would
// drop it silently).
func TestNoUnknownToken(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "spm", "spm-unk-nfkc.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	f["model"].(map[string]any)["unk_token"] = nil
	tok, err := LoadJSON(writeJSON(t, t.TempDir(), "tokenizer.json", f))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Encode("the ☃", never); err == nil || !strings.Contains(err.Error(), `"☃" has no token`) {
		t.Errorf("err %v, want one naming ☃", err)
	}
	if _, err := tok.Encode("the the", never); err != nil {
		t.Errorf("known runes: %v", err)
	}
}

// TestFastPath: GPT-2's and Qwen3's files take the byte-level fast path
// (the benchmark's speed depends on it).
func TestFastPath(t *testing.T) {
	for _, name := range []string{"gpt2", "qwen3"} {
		if tok := loadTok(t, name); tok.pipe != nil {
			t.Errorf("%s took the general pipeline", name)
		}
	}
}
