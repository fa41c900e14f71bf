package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

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

func TestGPT2Cases(t *testing.T) {
	_, cases := loadCases(t)
	tok := loadTok(t, "gpt2")
	n := 0
	for _, c := range cases {
		if c.GPT2 == nil {
			continue
		}
		enc, err := tok.Encode(c.Text, never)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(enc.IDs, c.GPT2) {
			t.Errorf("gpt2 %q:\n got %v\nwant %v", c.Text, enc.IDs, c.GPT2)
		}
		checkInvariants(t, tok, c.Text, enc)
		n++
	}
	t.Logf("%d gpt2 cases", n)
}

func TestQwen3Cases(t *testing.T) {
	_, cases := loadCases(t)
	tok := loadTok(t, "qwen3")
	n := 0
	for _, c := range cases {
		if c.Qwen3 == nil {
			continue
		}
		enc, err := tok.Encode(c.Text, never)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(enc.IDs, c.Qwen3) {
			t.Errorf("qwen3 %q:\n got %v\nwant %v", c.Text, enc.IDs, c.Qwen3)
		}
		checkInvariants(t, tok, c.Text, enc)
		n++
	}
	t.Logf("%d qwen3 cases", n)
}
