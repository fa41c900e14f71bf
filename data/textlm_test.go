package data_test

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/data"
)

// corpusTokens returns n tokens counting up modulo vocab, so that every
// window says where it came from: token i is i mod vocab.
func corpusTokens(n, vocab int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i % vocab)
	}
	return out
}

func TestShardRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		vocab, width int
	}{{256, 2}, {1 << 16, 2}, {1<<16 + 1, 4}, {100_000, 4}} {
		toks := corpusTokens(1000, tc.vocab)
		toks[7] = int32(tc.vocab - 1) // the largest id survives the width
		sh, err := data.NewShard(toks, tc.vocab)
		if err != nil {
			t.Fatal(err)
		}
		if sh.Width() != tc.width {
			t.Errorf("vocab %d: width %d, want %d", tc.vocab, sh.Width(), tc.width)
		}
		var buf bytes.Buffer
		n, err := sh.WriteTo(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(24 + tc.width*len(toks)); n != want || int64(buf.Len()) != want {
			t.Errorf("vocab %d: wrote %d bytes (reported %d), want %d", tc.vocab, buf.Len(), n, want)
		}
		back, err := data.ReadShard(buf.Bytes())
		if err != nil {
			t.Fatalf("vocab %d: %v", tc.vocab, err)
		}
		got := make([]int32, back.Len())
		back.Read(got, 0)
		if !slices.Equal(got, toks) || back.Vocab() != tc.vocab {
			t.Errorf("vocab %d: round trip changed the tokens or vocabulary (%d)", tc.vocab, back.Vocab())
		}
	}
}

func TestShardRefusesBadInput(t *testing.T) {
	if _, err := data.NewShard([]int32{1, 2, 300}, 256); err == nil || !strings.Contains(err.Error(), "token 300 at 2") {
		t.Errorf("NewShard with a token outside the vocabulary: %v", err)
	}
	sh, _ := data.NewShard(corpusTokens(10, 50), 50)
	var buf bytes.Buffer
	sh.WriteTo(&buf)
	good := buf.Bytes()
	edit := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "not a token shard"},
		{"magic", edit(func(b []byte) []byte { b[0] = 'X'; return b }), "not a token shard"},
		{"truncated", good[:len(good)-1], "the file holds"},
		{"huge count", edit(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], 1<<40); return b }), "more than"},
		{"width", edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 4); return b }), "bytes per token"},
		{"token", edit(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[24+2*3:], 60); return b }), "token 60 at 3"},
		{"vocab 0", edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 0); return b }), "vocabulary size 0"},
	}
	for _, tc := range tests {
		if _, err := data.ReadShard(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestTextLMWindows(t *testing.T) {
	const vocab, n, T = 1000, 5000, 32
	sh, _ := data.NewShard(corpusTokens(n, vocab), vocab)
	task := data.TextLM{Shard: sh, Lo: 100, Hi: 600, SeqLen: T}
	b := data.NewBatch(64, T)
	task.Fill(b, newRNG(1))
	for s := range b.N {
		tok, tgt, w := b.Seq(s)
		start := int(tok[0])
		if start < task.Lo || start+T+1 > task.Hi {
			t.Fatalf("sequence %d starts at %d, outside [%d, %d−%d]", s, start, task.Lo, task.Hi, T+1)
		}
		for i := range T {
			if tok[i] != int32(start+i) || tgt[i] != int32(start+i+1) || w[i] != 1 {
				t.Fatalf("sequence %d position %d: token %d target %d weight %g, want %d %d 1", s, i, tok[i], tgt[i], w[i], start+i, start+i+1)
			}
		}
		if b.Repeat[s] != 0 {
			t.Errorf("sequence %d: repeat %d without mixing", s, b.Repeat[s])
		}
	}
	again := data.NewBatch(64, T)
	task.Fill(again, newRNG(1))
	if !slices.Equal(b.Tokens, again.Tokens) {
		t.Error("the same seed drew different windows")
	}
}

func TestTextLMRepeatMixing(t *testing.T) {
	const vocab, n, T = 5000, 5000, 64
	sh, _ := data.NewShard(corpusTokens(n, vocab), vocab) // no token repeats within a window
	task := data.TextLM{Shard: sh, Lo: 0, Hi: n, SeqLen: T, RepeatFrac: 0.5, MinSpan: T / 16, MaxSpan: T / 4}
	b := data.NewBatch(400, T)
	task.Fill(b, newRNG(2))
	mixed := 0
	for s := range b.N {
		tok, tgt, _ := b.Seq(s)
		for i := 0; i+1 < T; i++ {
			if tgt[i] != tok[i+1] {
				t.Fatalf("sequence %d: target %d at %d is not the next token %d", s, tgt[i], i, tok[i+1])
			}
		}
		ls := b.Repeat[s]
		// Tokens that occur twice are exactly the repeated span: count the
		// positions whose token occurred earlier.
		seen := map[int32]int{}
		dups := 0
		for i, v := range tok {
			if _, ok := seen[v]; ok {
				dups++
			}
			seen[v] = i
		}
		if ls == 0 {
			if dups != 0 {
				t.Fatalf("sequence %d: %d repeated tokens without mixing", s, dups)
			}
			continue
		}
		mixed++
		if ls < T/16 || ls > T/4 || dups != ls {
			t.Fatalf("sequence %d: span %d (want in [%d, %d]) with %d repeated tokens", s, ls, T/16, T/4, dups)
		}
	}
	if mixed < 160 || mixed > 240 {
		t.Errorf("%d of 400 windows mixed at RepeatFrac 0.5", mixed)
	}
}

func TestTextLMValidate(t *testing.T) {
	sh, _ := data.NewShard(corpusTokens(100, 10), 10)
	tests := []struct {
		c    data.TextLM
		want string
	}{
		{data.TextLM{Shard: sh, Lo: 0, Hi: 100, SeqLen: 99}, ""},
		{data.TextLM{Shard: sh, Lo: 0, Hi: 100, SeqLen: 100}, "fewer than a window"},
		{data.TextLM{Lo: 0, Hi: 100, SeqLen: 8}, "no token shard"},
		{data.TextLM{Shard: sh, Lo: 0, Hi: 101, SeqLen: 8}, "not inside"},
		{data.TextLM{Shard: sh, Lo: 0, Hi: 100, SeqLen: 1}, "at least 2"},
		{data.TextLM{Shard: sh, Lo: 0, Hi: 100, SeqLen: 8, RepeatFrac: 1.5}, "repeat fraction"},
		{data.TextLM{Shard: sh, Lo: 0, Hi: 100, SeqLen: 8, RepeatFrac: 0.5, MinSpan: 2, MaxSpan: 4}, ""},
		{data.TextLM{Shard: sh, Lo: 0, Hi: 100, SeqLen: 8, RepeatFrac: 0.5, MinSpan: 2, MaxSpan: 5}, "do not fit twice"},
		{data.TextLM{Shard: sh, Lo: 0, Hi: 100, SeqLen: 8, RepeatFrac: 0.5, MinSpan: 1, MaxSpan: 4}, "do not fit twice"},
		{data.TextLM{Shard: sh, Lo: 0, Hi: 100, SeqLen: 8, RepeatFrac: 0.5, MinSpan: 3, MaxSpan: 2}, "do not fit twice"},
	}
	for _, tc := range tests {
		err := tc.c.Validate()
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.c, err, tc.want)
		}
	}
}

// TestTextLMRandomSpans: with RandomSpans every mixed window holds a span
// of Ls tokens twice, the first copy not the text that was there but
// tokens read from random places (here the shard counts up by one, so a
// natural span is consecutive ids and a random one almost never is), and
// the targets still follow the edited window.
func TestTextLMRandomSpans(t *testing.T) {
	const vocab, n, T = 5000, 5000, 64
	sh, _ := data.NewShard(corpusTokens(n, vocab), vocab)
	for _, random := range []bool{false, true} {
		task := data.TextLM{Shard: sh, Lo: 0, Hi: n, SeqLen: T, RepeatFrac: 1, MinSpan: T / 8, MaxSpan: T / 4, RandomSpans: random}
		b := data.NewBatch(200, T)
		task.Fill(b, newRNG(3))
		consecutive := 0 // windows whose first copy is a run of consecutive ids
		for s := range b.N {
			tok, tgt, _ := b.Seq(s)
			for i := 0; i+1 < T; i++ {
				if tgt[i] != tok[i+1] {
					t.Fatalf("random %t, sequence %d: target %d at %d is not the next token %d", random, s, tgt[i], i, tok[i+1])
				}
			}
			ls := b.Repeat[s]
			a := -1 // the first copy: the earliest span of ls tokens found again later
		find:
			for i := 0; i+2*ls <= T; i++ {
				for j := i + ls; j+ls <= T; j++ {
					if slices.Equal(tok[i:i+ls], tok[j:j+ls]) {
						a = i
						break find
					}
				}
			}
			if a < 0 {
				t.Fatalf("random %t, sequence %d: no span of %d tokens occurs twice: %v", random, s, ls, tok)
			}
			run := true
			for k := 1; k < ls; k++ {
				run = run && tok[a+k] == tok[a+k-1]+1
			}
			if run {
				consecutive++
			}
		}
		if want := map[bool]int{false: b.N, true: 0}[random]; consecutive != want {
			t.Errorf("RandomSpans %t: %d of %d first copies are the text's own consecutive tokens, want %d", random, consecutive, b.N, want)
		}
	}
}
