package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/mechinterp/workbench/internal/testenv"
)

type refCase struct {
	Text  string `json:"text"`
	GPT2  []int  `json:"gpt2"`
	Qwen3 []int  `json:"qwen3"`
}

func loadCases(t *testing.T) (string, []refCase) {
	t.Helper()
	dir := testenv.SharedDir(t, "tokenizers")
	data, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Source string    `json:"source"`
		Cases  []refCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("cases.json holds no cases")
	}
	return dir, f.Cases
}

func loadTok(t testing.TB, name string) *Tokenizer {
	t.Helper()
	tok, err := Load(filepath.Join(testenv.SharedDir(t, "tokenizers"), name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return tok
}

var never = Options{BOS: BOSNever}

// checkInvariants: the spans tile the input in order and each covers
// exactly its token's bytes, and Decode(Encode(s)) == s.
func checkInvariants(t *testing.T, tok *Tokenizer, s string, enc Encoding) {
	t.Helper()
	if len(enc.IDs) != len(enc.Spans) {
		t.Fatalf("%q: %d ids, %d spans", s, len(enc.IDs), len(enc.Spans))
	}
	p := 0
	for k, sp := range enc.Spans {
		if sp.Start != p || sp.End <= sp.Start || sp.End > len(s) {
			t.Fatalf("%q: token %d span %v, want start %d and non-empty within %d bytes", s, k, sp, p, len(s))
		}
		piece, err := tok.Piece(enc.IDs[k])
		if err != nil {
			t.Fatal(err)
		}
		if s[sp.Start:sp.End] != piece {
			t.Fatalf("%q: token %d (id %d) covers %q, its piece is %q", s, k, enc.IDs[k], s[sp.Start:sp.End], piece)
		}
		p = sp.End
	}
	if p != len(s) {
		t.Fatalf("%q: spans end at %d, text has %d bytes", s, p, len(s))
	}
	back, err := tok.Decode(enc.IDs)
	if err != nil {
		t.Fatal(err)
	}
	if back != s {
		t.Fatalf("Decode(Encode(%q)) = %q", s, back)
	}
}

// TestCases checks every case of ../shared's cases.json (ids by tiktoken
// and transformers.js) for both tokenizers, with the span and round-trip
// invariants.
func TestCases(t *testing.T) {
	_, cases := loadCases(t)
	for _, name := range []string{"gpt2", "qwen3"} {
		tok := loadTok(t, name)
		n := 0
		for _, c := range cases {
			want := map[string][]int{"gpt2": c.GPT2, "qwen3": c.Qwen3}[name]
			if want == nil {
				t.Errorf("%s: case %q has no ids", name, c.Text)
				continue
			}
			enc, err := tok.Encode(c.Text, never)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(enc.IDs, want) {
				t.Errorf("%s %q:\n got %v\nwant %v", name, c.Text, enc.IDs, want)
			}
			checkInvariants(t, tok, c.Text, enc)
			n++
		}
		t.Logf("%s: %d cases", name, n)
	}
}

// TestReferenceCorpus checks the tricky corpus of testdata/reference.json
// (unicode normalisation, ZWJ emoji, CRLF, whitespace runs, digits,
// upper-case contractions, 300 random strings) against an independent
// Python reference: the pre-tokens Python's regex engine cuts with the
// patterns as published, and the ids of a separate BPE.
func TestReferenceCorpus(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct {
			Text       string   `json:"text"`
			GPT2Words  []string `json:"gpt2_words"`
			GPT2       []int    `json:"gpt2"`
			Qwen3Words []string `json:"qwen3_words"`
			Qwen3      []int    `json:"qwen3"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 300 {
		t.Fatalf("reference.json holds %d cases, want at least 300", len(f.Cases))
	}
	gpt2, qwen := loadTok(t, "gpt2"), loadTok(t, "qwen3")
	for _, c := range f.Cases {
		if got := words(splitGPT2, c.Text); !slices.Equal(got, c.GPT2Words) {
			t.Errorf("gpt2 pre-tokens of %q:\n got %q\nwant %q", c.Text, got, c.GPT2Words)
		}
		nfc := norm.NFC.String(c.Text)
		if got := words(splitQwen, nfc); !slices.Equal(got, c.Qwen3Words) {
			t.Errorf("qwen3 pre-tokens of %q:\n got %q\nwant %q", nfc, got, c.Qwen3Words)
		}
		enc, err := gpt2.Encode(c.Text, never)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(enc.IDs, c.GPT2) {
			t.Errorf("gpt2 %q:\n got %v\nwant %v", c.Text, enc.IDs, c.GPT2)
		}
		if c.Text != "" {
			checkInvariants(t, gpt2, c.Text, enc)
		}
		enc, err = qwen.Encode(c.Text, never)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(enc.IDs, c.Qwen3) {
			t.Errorf("qwen3 %q:\n got %v\nwant %v", c.Text, enc.IDs, c.Qwen3)
		}
		switch {
		case c.Text == "":
		case nfc == c.Text:
			checkInvariants(t, qwen, c.Text, enc)
		default:
			checkNormalized(t, qwen, c.Text, nfc, enc)
		}
	}
}

// checkNormalized: for text NFC changes, Decode gives the NFC form and
// the spans are ordered, within the text, and cover it.
func checkNormalized(t *testing.T, tok *Tokenizer, s, nfc string, enc Encoding) {
	t.Helper()
	back, err := tok.Decode(enc.IDs)
	if err != nil {
		t.Fatal(err)
	}
	if back != nfc {
		t.Errorf("Decode(Encode(%q)) = %q, want its NFC form %q", s, back, nfc)
	}
	end := 0
	for k, sp := range enc.Spans {
		if sp.Start > end || sp.Start > sp.End || sp.End > len(s) || sp.End < end {
			t.Fatalf("%q: token %d span %v after end %d", s, k, sp, end)
		}
		end = sp.End
	}
	if enc.Spans[0].Start != 0 || end != len(s) {
		t.Errorf("%q: spans %v do not cover the text", s, enc.Spans)
	}
}

func words(split splitter, s string) []string {
	out := []string{}
	for i := 0; i < len(s); {
		j := split(s, i)
		out = append(out, s[i:j])
		i = j
	}
	return out
}
