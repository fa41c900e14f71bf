package tokenizer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mechinterp/workbench/internal/testenv"
)

// mergesOf lists a tokenizer's merges in rank order as raw byte strings.
func mergesOf(t *Tokenizer) [][2]string {
	out := make([][2]string, len(t.merges))
	for p, m := range t.merges {
		out[m.rank] = [2]string{t.pieces[p.a], t.pieces[p.b]}
	}
	return out
}

func train(t *testing.T, text string, n int) *Tokenizer {
	t.Helper()
	tok, err := TrainBPE(context.Background(), []byte(text), n, TrainOptions{})
	if err != nil {
		t.Fatalf("TrainBPE(%q, %d): %v", text, n, err)
	}
	return tok
}

// TestTrainBPEHandMerges: the merges on tiny corpora are the ones counted
// by hand (in the comments), ties and overlapping pairs included.
func TestTrainBPEHandMerges(t *testing.T) {
	for _, tc := range []struct {
		text string
		want [][2]string
	}{
		// pre-tokens "ab" ×1, " ab" ×2, " abc" ×1: (a,b) 4, (' ',a) 3, (b,c) 1;
		// then (' ',ab) 3, (ab,c) 1; then (' ab',c) 1
		{"ab ab ab abc", [][2]string{{"a", "b"}, {" ", "ab"}, {" ab", "c"}}},
		// "ba", " ab": three pairs of count 1, the smallest ids first:
		// (' '=32, a) then (b=98, a=97) before (' a'=256, b)
		{"ba ab", [][2]string{{" ", "a"}, {"b", "a"}, {" a", "b"}}},
		// "aaaa": (a,a) 3 merges left to right into aa|aa, then (aa,aa)
		{"aaaa", [][2]string{{"a", "a"}, {"aa", "aa"}}},
		// "aaa": aa|a, then (aa,a)
		{"aaa", [][2]string{{"a", "a"}, {"aa", "a"}}},
	} {
		tok := train(t, tc.text, 256+len(tc.want))
		if got := mergesOf(tok); !slices.Equal(got, tc.want) {
			t.Errorf("TrainBPE(%q) merges %q, want %q", tc.text, got, tc.want)
		}
		if _, err := TrainBPE(context.Background(), []byte(tc.text), 257+len(tc.want), TrainOptions{}); err == nil || !strings.Contains(err.Error(), "at most") {
			t.Errorf("TrainBPE(%q) beyond its pairs: error %v, want one saying the most it can learn", tc.text, err)
		}
	}
}

// naiveTrain is the definition TrainBPE implements, recounting every pair
// for every merge: it returns the merges and each pre-token's final
// segmentation.
func naiveTrain(text string, n int) ([][2]string, map[string][]string) {
	counts := map[string]int{}
	for i := 0; i < len(text); {
		j := splitGPT2(text, i)
		counts[text[i:j]]++
		i = j
	}
	ids := map[string]int{}
	for b := range 256 {
		ids[string([]byte{byte(b)})] = b
	}
	seg := map[string][]string{}
	for w := range counts {
		for i := 0; i < len(w); i++ {
			seg[w] = append(seg[w], w[i:i+1])
		}
	}
	var merges [][2]string
	banned := map[[2]string]bool{}
	for len(ids) < n {
		pc := map[[2]string]int{}
		for w, s := range seg {
			for i := 0; i+1 < len(s); i++ {
				pc[[2]string{s[i], s[i+1]}] += counts[w]
			}
		}
		var best [2]string
		bc := 0
		for p, c := range pc {
			if banned[p] {
				continue
			}
			if _, dup := ids[p[0]+p[1]]; dup {
				banned[p] = true
				continue
			}
			better := c > bc || c == bc && (ids[p[0]] < ids[best[0]] || ids[p[0]] == ids[best[0]] && ids[p[1]] < ids[best[1]])
			if better {
				best, bc = p, c
			}
		}
		if bc == 0 {
			break
		}
		merges = append(merges, best)
		ids[best[0]+best[1]] = len(ids)
		for w, s := range seg {
			var out []string
			for i := 0; i < len(s); i++ {
				if i+1 < len(s) && s[i] == best[0] && s[i+1] == best[1] {
					out = append(out, best[0]+best[1])
					i++
				} else {
					out = append(out, s[i])
				}
			}
			seg[w] = out
		}
	}
	return merges, seg
}

// randomText draws text from a small alphabet (so that pairs collide,
// ties are common and some strings are reachable by two merge orders),
// with spaces, newlines, a multi-byte letter and an invalid byte.
func randomText(rng *rand.Rand, n int) string {
	alphabet := []string{"a", "b", "c", "a", "b", " ", " ", "\n", "é", "\xff", "1", "."}
	var b strings.Builder
	for range n {
		b.WriteString(alphabet[rng.IntN(len(alphabet))])
	}
	return b.String()
}

// TestTrainBPEMatchesNaive: on random texts the merges equal those of the
// recount-everything definition, encoding each pre-token with the result
// gives the definition's final segmentation, and the vocabulary has
// exactly the size asked for.
func TestTrainBPEMatchesNaive(t *testing.T) {
	for seed := range uint64(12) {
		rng := rand.New(rand.NewPCG(seed, seed))
		text := randomText(rng, 200+rng.IntN(800))
		n := 256 + 5 + rng.IntN(60)
		want, seg := naiveTrain(text, n)
		if len(want) < n-256 {
			n = 256 + len(want)
		}
		var last TrainProgress
		tok, err := TrainBPE(context.Background(), []byte(text), n, TrainOptions{Progress: func(p TrainProgress) { last = p }})
		if err != nil {
			t.Fatal(err)
		}
		if all, _ := tok.Encode(text, Options{BOS: BOSNever}); last.Merges != n-256 || last.Tokens != int64(len(all.IDs)) {
			t.Errorf("seed %d: last progress %+v; the text encodes to %d tokens", seed, last, len(all.IDs))
		}
		if got := mergesOf(tok); !slices.Equal(got, want) {
			t.Fatalf("seed %d: merges\n%q\nwant\n%q", seed, got, want)
		}
		if tok.VocabSize() != n {
			t.Errorf("seed %d: vocabulary %d, want %d", seed, tok.VocabSize(), n)
		}
		for w, s := range seg {
			enc, err := tok.Encode(w, Options{BOS: BOSNever})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, id := range enc.IDs {
				got = append(got, tok.pieces[id])
			}
			if !slices.Equal(got, s) {
				t.Errorf("seed %d: Encode(%q) = %q, training left %q", seed, w, got, s)
			}
		}
	}
}

// TestTrainBPERoundTrip: decode(encode(x)) = x for arbitrary bytes, the
// saved tokenizer.json loads back with the same vocabulary and encodes
// every input identically, and training is deterministic (the same bytes
// written twice).
func TestTrainBPERoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	corpus := randomText(rng, 3000) + " the cat sat on the mat; the cat's hat. Ünïcödé 日本語 ½ \t\r\n"
	tok := train(t, corpus, 400)
	var first, second bytes.Buffer
	if err := tok.WriteJSON(&first); err != nil {
		t.Fatal(err)
	}
	if err := train(t, corpus, 400).WriteJSON(&second); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Error("two trainings on the same text wrote different tokenizer.json files")
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := tok.SaveJSON(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if loaded.VocabSize() != 400 {
		t.Errorf("loaded vocabulary %d, want 400", loaded.VocabSize())
	}
	parsed, err := ParseJSON(first.Bytes()) // the same, from bytes
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseJSON([]byte(`{"version": "1.0", "bogus": 1}`)); err == nil {
		t.Error("ParseJSON accepted an unknown field")
	}
	inputs := []string{"", corpus, "the cat", "\xff\xfe\x00abc\xc3", "é\u0301 — ’quoted’  \n\n  x", string([]byte{0xe6, 0x97})}
	for range 50 {
		b := make([]byte, rng.IntN(64))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		inputs = append(inputs, string(b), randomText(rng, rng.IntN(100)))
	}
	for _, in := range inputs {
		a, err := tok.Encode(in, Options{BOS: BOSNever})
		if err != nil {
			t.Fatal(err)
		}
		b, err := loaded.Encode(in, Options{BOS: BOSNever})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a.IDs, b.IDs) {
			t.Errorf("%q: trained %v, loaded %v", in, a.IDs, b.IDs)
		}
		if p, err := parsed.Encode(in, Options{BOS: BOSNever}); err != nil || !slices.Equal(a.IDs, p.IDs) {
			t.Errorf("%q: trained %v, parsed %v (%v)", in, a.IDs, p.IDs, err)
		}
		out, err := tok.Decode(a.IDs)
		if err != nil || out != in {
			t.Errorf("Decode(Encode(%q)) = %q, %v", in, out, err)
		}
		if in == corpus && len(a.IDs) >= len(in)*3/4 {
			t.Errorf("the training text takes %d tokens for %d bytes: the merges do not compress it", len(a.IDs), len(in))
		}
		if utf8.ValidString(in) != utf8.ValidString(out) {
			t.Errorf("%q: validity changed", in)
		}
	}
	// what a Hugging Face loader needs: ByteLevel parts, a BPE model, "a b" merges
	for _, want := range []string{`"type":"ByteLevel"`, `"type": "BPE"`, `"merges": [`, `"Ġ": 32`} {
		if !strings.Contains(first.String(), want) {
			t.Errorf("tokenizer.json lacks %s", want)
		}
	}
}

// TestWriteJSONLoaded: a tokenizer loaded from a byte-level tokenizer.json
// (GPT-2's ByteLevel pre-tokenizer; or Qwen's Split regex, NFC and an
// added special token) is written back to a file that loads into a
// tokenizer encoding the same, and writing that one again changes nothing.
func TestWriteJSONLoaded(t *testing.T) {
	src := train(t, "one two three two one, one! twenty-two", 272)
	dir := t.TempDir()
	gpt2 := filepath.Join(dir, "gpt2.json")
	if err := src.SaveJSON(gpt2); err != nil {
		t.Fatal(err)
	}
	// the same vocabulary with Qwen's pre-tokenizer, NFC and an added token
	var f map[string]any
	b, _ := os.ReadFile(gpt2)
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	f["normalizer"] = map[string]any{"type": "NFC"}
	f["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
		map[string]any{"type": "Split", "pattern": map[string]any{"Regex": qwenPattern}, "behavior": "Isolated", "invert": false},
		map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
	}}
	f["added_tokens"] = []any{map[string]any{"id": 272, "content": "<|end|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}}
	qwen := filepath.Join(dir, "qwen.json")
	b, _ = json.Marshal(f)
	if err := os.WriteFile(qwen, b, 0o644); err != nil {
		t.Fatal(err)
	}
	text := "One  two'S three\r\n\ttwenty-two<|end|>e\u0301 123456"
	for _, path := range []string{gpt2, qwen} {
		a, err := LoadJSON(path)
		if err != nil {
			t.Fatal(err)
		}
		p1 := path + ".1"
		if err := a.SaveJSON(p1); err != nil {
			t.Fatal(err)
		}
		b1, err := LoadJSON(p1)
		if err != nil {
			t.Fatal(err)
		}
		for _, special := range []bool{false, true} {
			ea, _ := a.Encode(text, Options{BOS: BOSNever, Special: special})
			eb, _ := b1.Encode(text, Options{BOS: BOSNever, Special: special})
			if !slices.Equal(ea.IDs, eb.IDs) || !slices.Equal(ea.Spans, eb.Spans) {
				t.Errorf("%s, special %v: loaded %v, written and loaded again %v", filepath.Base(path), special, ea.IDs, eb.IDs)
			}
		}
		p2 := path + ".2"
		if err := b1.SaveJSON(p2); err != nil {
			t.Fatal(err)
		}
		w1, _ := os.ReadFile(p1)
		w2, _ := os.ReadFile(p2)
		if !bytes.Equal(w1, w2) {
			t.Errorf("%s: written twice differs", filepath.Base(path))
		}
	}
	if !strings.Contains(string(mustRead(t, qwen+".1")), `"Regex":`) {
		t.Error("the Split pattern was not written")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTrainBPEBadInput: sizes out of range are refused naming the range.
func TestTrainBPEBadInput(t *testing.T) {
	for _, n := range []int{-1, 0, 255, MaxTrainVocab + 1, 1 << 40} {
		_, err := TrainBPE(context.Background(), []byte("abc"), n, TrainOptions{})
		if err == nil || !strings.Contains(err.Error(), "out of range [256,") {
			t.Errorf("TrainBPE(vocab %d) = %v, want an out-of-range error", n, err)
		}
	}
	if _, err := TrainBPE(context.Background(), []byte("abc"), 300, TrainOptions{ProgressEvery: -1}); err == nil {
		t.Error("a negative progress interval was accepted")
	}
	tok := train(t, "", 256)
	if tok.VocabSize() != 256 {
		t.Errorf("empty text, 256 tokens: vocabulary %d", tok.VocabSize())
	}
}

// TestTrainBPEProgressAndCancel: progress counts up to the total, and a
// cancelled context stops a long training with ctx's error.
func TestTrainBPEProgressAndCancel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var b strings.Builder
	for range 20000 {
		for range 1 + rng.IntN(8) {
			b.WriteByte(byte('a' + rng.IntN(26)))
		}
		b.WriteByte(' ')
	}
	text := []byte(b.String())
	var seen []int
	_, err := TrainBPE(context.Background(), text, 256+200, TrainOptions{ProgressEvery: 50, Progress: func(p TrainProgress) {
		if p.Total != 200 || p.Words == 0 {
			t.Errorf("progress %+v", p)
		}
		seen = append(seen, p.Merges)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 50, 100, 150, 200}; !slices.Equal(seen, want) {
		t.Errorf("progress at %v, want %v", seen, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err = TrainBPE(ctx, text, 256+5000, TrainOptions{ProgressEvery: 10, Progress: func(p TrainProgress) {
		calls++
		if p.Merges >= 30 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "after 30 of 5000 merges") {
		t.Errorf("cancelled training: %v after %d progress calls", err, calls)
	}
}

// BenchmarkTrainBPE trains GPT-2-style BPE on tinyshakespeare (1.1 MB),
// reporting the corpus bytes and the merges learned per second.
func BenchmarkTrainBPE(b *testing.B) {
	text, err := os.ReadFile(filepath.Join(testenv.SharedDir(b, "corpora"), "tinyshakespeare.txt"))
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{2000, 8000} {
		b.Run(fmt.Sprintf("corpus=tinyshakespeare/vocab=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := TrainBPE(context.Background(), text, n, TrainOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(len(text))/1e6/sec, "MB/s")
			b.ReportMetric(float64(n-256)/sec, "merges/s")
		})
	}
}
