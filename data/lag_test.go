package data_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/data"
)

func TestLagTasks(t *testing.T) {
	type task interface {
		Validate() error
		Fill(*data.Batch, *rand.Rand)
	}
	tests := []struct {
		name   string
		task   task
		seqLen int
		bos    bool
		lag    int // target at i is the token at i−lag
		vocab  int
	}{
		{"prev", data.PrevToken{Vocab: 10, SeqLen: 12}, 12, false, 1, 10},
		{"prev/bos", data.PrevToken{Vocab: 10, SeqLen: 12, BOS: true}, 12, true, 1, 10},
		{"copy", data.Copy{Vocab: 3, SeqLen: 5}, 5, false, 0, 3},
		{"copy/bos", data.Copy{Vocab: 3, SeqLen: 5, BOS: true}, 5, true, 0, 3},
		{"copy/one", data.Copy{Vocab: 2, SeqLen: 1}, 1, false, 0, 2},
	}
	for _, tt := range tests {
		if err := tt.task.Validate(); err != nil {
			t.Fatalf("%s: Validate() = %v", tt.name, err)
		}
		b := data.NewBatch(50, tt.seqLen)
		tt.task.Fill(b, newRNG(21))
		off := 0
		if tt.bos {
			off = 1
		}
		for s := range b.N {
			tok, tgt, w := b.Seq(s)
			if tt.bos && tok[0] != data.BOSToken {
				t.Fatalf("%s seq %d: tokens[0] = %d, want BOS", tt.name, s, tok[0])
			}
			for i := range tok {
				want, wantW := int32(0), float32(0)
				if i >= tt.lag {
					want = tok[i-tt.lag]
				}
				if i >= off+tt.lag {
					wantW = 1
				}
				if tgt[i] != want || w[i] != wantW {
					t.Fatalf("%s seq %d pos %d: target %d weight %g, want %d and %g; tokens %v", tt.name, s, i, tgt[i], w[i], want, wantW, tok)
				}
				if i >= off && (tok[i] < int32(off) || int(tok[i]) >= tt.vocab) {
					t.Fatalf("%s seq %d: content token %d out of range", tt.name, s, tok[i])
				}
			}
			if b.Repeat[s] != 0 {
				t.Fatalf("%s seq %d: repeat %d, want 0", tt.name, s, b.Repeat[s])
			}
		}
	}
}

func TestLagValidate(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"prev short", data.PrevToken{Vocab: 10, SeqLen: 1}.Validate(), "data: previous-token: seq len 1 too short: need at least 2"},
		{"prev bos short", data.PrevToken{Vocab: 10, SeqLen: 2, BOS: true}.Validate(), "need at least 3"},
		{"prev vocab", data.PrevToken{Vocab: 2, SeqLen: 4, BOS: true}.Validate(), "data: previous-token: vocab 2 too small"},
		{"copy short", data.Copy{Vocab: 10, SeqLen: 0}.Validate(), "data: copy: seq len 0 too short"},
		{"copy vocab", data.Copy{Vocab: 1, SeqLen: 4}.Validate(), "data: copy: vocab 1 too small"},
		{"ok", data.Copy{Vocab: 2, SeqLen: 2, BOS: false}.Validate(), ""},
	}
	for _, tt := range tests {
		switch {
		case tt.want == "" && tt.err != nil:
			t.Errorf("%s: got %v, want nil", tt.name, tt.err)
		case tt.want != "" && (tt.err == nil || !strings.Contains(tt.err.Error(), tt.want)):
			t.Errorf("%s: got %v, want error containing %q", tt.name, tt.err, tt.want)
		}
	}
}
