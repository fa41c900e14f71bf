package data_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/data"
)

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// inductionConfigs are the valid configurations the invariant tests run.
var inductionConfigs = []data.Induction{
	{Vocab: 64, L: 20, MinRepeat: 10, Distinct: true},            // the CLI defaults
	{Vocab: 64, L: 20, MinRepeat: 10, Distinct: true, BOS: true}, // with BOS
	{Vocab: 64, L: 20, MinRepeat: 10},                            // repeats allowed
	{Vocab: 5, L: 8, MinRepeat: 1, BOS: true},                    // tiny vocab, Ls down to 1
	{Vocab: 13, L: 7, MinRepeat: 2, Distinct: true, BOS: true},   // vocab exactly 2L−min+1
	{Vocab: 2, L: 1, MinRepeat: 1, Distinct: true},               // smallest task
	{Vocab: 50000, L: 6, MinRepeat: 6, Distinct: true},           // fixed length, large vocab
}

func TestInductionValidate(t *testing.T) {
	tests := []struct {
		c    data.Induction
		want string // substring of the error; "" for valid
	}{
		{data.Induction{Vocab: 64, L: 20, MinRepeat: 10, Distinct: true}, ""},
		{data.Induction{Vocab: 31, L: 20, MinRepeat: 10, Distinct: true, BOS: true}, ""},
		{data.Induction{Vocab: 30, L: 20, MinRepeat: 10, Distinct: true, BOS: true}, "too small for distinct"},
		{data.Induction{Vocab: 29, L: 20, MinRepeat: 10, Distinct: true}, "too small for distinct"},
		{data.Induction{Vocab: 2, L: 20, MinRepeat: 10}, ""},
		{data.Induction{Vocab: 2, L: 20, MinRepeat: 10, BOS: true}, "at least 2 content tokens"},
		{data.Induction{Vocab: 1, L: 1, MinRepeat: 1}, "at least 2 content tokens"},
		{data.Induction{Vocab: 64, L: 0, MinRepeat: 0}, "L 0 out of range"},
		{data.Induction{Vocab: 64, L: -3, MinRepeat: 1}, "L -3 out of range"},
		{data.Induction{Vocab: 64, L: 1 << 30, MinRepeat: 1}, "out of range"},
		{data.Induction{Vocab: 64, L: 10, MinRepeat: 11}, "min repeat 11 out of range [1, L=10]"},
		{data.Induction{Vocab: 64, L: 10, MinRepeat: 0}, "min repeat 0"},
		{data.Induction{Vocab: 1 << 40, L: 10, MinRepeat: 1}, "int32"},
		{data.Induction{}, "out of range"},
	}
	for _, tt := range tests {
		err := tt.c.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v.Validate() = %v, want nil", tt.c, err)
		case tt.want != "" && err == nil:
			t.Errorf("%+v.Validate() = nil, want error containing %q", tt.c, tt.want)
		case tt.want != "" && !strings.Contains(err.Error(), tt.want):
			t.Errorf("%+v.Validate() = %q, want it to contain %q", tt.c, err, tt.want)
		case err != nil && !strings.HasPrefix(err.Error(), "data: "):
			t.Errorf("%+v.Validate() = %q, want prefix \"data: \"", tt.c, err)
		}
	}
}

// checkCommon checks what every induction-style batch satisfies: BOS at 0,
// content tokens in range, next-token targets, and weights exactly on
// [from(b), T−1).
func checkCommon(t *testing.T, c data.Induction, b *data.Batch, from func(seq int) int) {
	t.Helper()
	off := 0
	if c.BOS {
		off = 1
	}
	for s := range b.N {
		tok, tgt, w := b.Seq(s)
		if c.BOS && tok[0] != data.BOSToken {
			t.Fatalf("seq %d: tokens[0] = %d, want BOS %d", s, tok[0], data.BOSToken)
		}
		for i := off; i < len(tok); i++ {
			if tok[i] < int32(off) || tok[i] >= int32(c.Vocab) {
				t.Fatalf("seq %d: token %d at %d outside content range [%d, %d)", s, tok[i], i, off, c.Vocab)
			}
		}
		for i := range len(tok) - 1 {
			if tgt[i] != tok[i+1] {
				t.Fatalf("seq %d: target[%d] = %d, want next token %d", s, i, tgt[i], tok[i+1])
			}
		}
		if tgt[len(tok)-1] != 0 || w[len(tok)-1] != 0 {
			t.Fatalf("seq %d: last target %d weight %g, want 0 and 0", s, tgt[len(tok)-1], w[len(tok)-1])
		}
		lo := from(s)
		for i, wi := range w {
			want := float32(0)
			if i >= lo && i < len(tok)-1 {
				want = 1
			}
			if wi != want {
				t.Fatalf("seq %d (repeat %d): weight[%d] = %g, want %g", s, b.Repeat[s], i, wi, want)
			}
		}
	}
}

// predictable reports whether tok[i] occurred before position i and the
// token after some earlier occurrence equals tok[i+1]: what an induction
// head can predict.
func predictable(tok []int32, i int) bool {
	for j := range i {
		if tok[j] == tok[i] && tok[j+1] == tok[i+1] {
			return true
		}
	}
	return false
}

func TestInductionFillInvariants(t *testing.T) {
	for ci, c := range inductionConfigs {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			seed := uint64(100 + ci)
			b := data.NewBatch(64, c.SeqLen())
			rng := newRNG(seed)
			for range 20 {
				c.Fill(b, rng)
				T := b.SeqLen
				checkCommon(t, c, b, func(s int) int { return T - b.Repeat[s] })
				for s := range b.N {
					tok, tgt, w := b.Seq(s)
					ls := b.Repeat[s]
					if ls < c.MinRepeat || ls > c.L {
						t.Fatalf("seed %d seq %d: Ls %d outside [%d, %d]", seed, s, ls, c.MinRepeat, c.L)
					}
					if !slices.Equal(tok[T-2*ls:T-ls], tok[T-ls:]) {
						t.Fatalf("seed %d seq %d: second block %v != first block %v", seed, s, tok[T-ls:], tok[T-2*ls:T-ls])
					}
					off := T - 2*c.L
					if c.Distinct {
						first := slices.Clone(tok[off : T-ls])
						slices.Sort(first)
						if len(slices.Compact(first)) != T-ls-off {
							t.Fatalf("seed %d seq %d: filler+P %v not distinct", seed, s, tok[off:T-ls])
						}
					}
					for i := off; i < T-1; i++ {
						// Every weighted target is what induction predicts:
						// the token after the previous occurrence.
						if w[i] == 1 && tgt[i] != tok[i-ls+1] {
							t.Fatalf("seed %d seq %d: weighted target[%d] = %d, want token at i−Ls+1 = %d", seed, s, i, tgt[i], tok[i-ls+1])
						}
						// With distinct tokens, weighted ⇔ predictable.
						if c.Distinct && (w[i] == 1) != predictable(tok, i) {
							t.Fatalf("seed %d seq %d: position %d weight %g but predictable=%t; tokens %v", seed, s, i, w[i], predictable(tok, i), tok)
						}
					}
				}
			}
		})
	}
}

func TestInductionRepeatDistribution(t *testing.T) {
	const seed = 7
	c := data.Induction{Vocab: 64, L: 20, MinRepeat: 10, Distinct: true}
	b := data.NewBatch(100, c.SeqLen())
	rng := newRNG(seed)
	counts := make(map[int]int)
	const batches = 110
	for range batches {
		c.Fill(b, rng)
		for _, ls := range b.Repeat {
			counts[ls]++
		}
	}
	// 11 values, 11,000 draws: 1,000 expected each; the binomial standard
	// deviation is about 30, so ±15% is five sigma.
	const want, tol = batches * 100 / 11, 150
	for ls := c.MinRepeat; ls <= c.L; ls++ {
		if got := counts[ls]; got < want-tol || got > want+tol {
			t.Errorf("seed %d: Ls=%d drawn %d times, want %d±%d", seed, ls, got, want, tol)
		}
	}
	if len(counts) != c.L-c.MinRepeat+1 {
		t.Errorf("seed %d: Ls values %v, want exactly [%d, %d]", seed, counts, c.MinRepeat, c.L)
	}
}

func TestInductionTokenUniformity(t *testing.T) {
	// Distinct sampling (Floyd + shuffle) must still use every content token
	// about equally, at every position.
	const seed = 11
	c := data.Induction{Vocab: 13, L: 6, MinRepeat: 6, Distinct: true, BOS: true}
	b := data.NewBatch(1000, c.SeqLen())
	c.Fill(b, newRNG(seed))
	for pos := 1; pos <= c.L; pos++ {
		counts := make([]int, c.Vocab)
		for s := range b.N {
			counts[b.Tokens[s*b.SeqLen+pos]]++
		}
		// 1000 draws over 12 tokens: 83 expected, standard deviation ≈ 9.
		for v := 1; v < c.Vocab; v++ {
			if counts[v] < 40 || counts[v] > 130 {
				t.Errorf("seed %d: position %d: token %d drawn %d times of 1000, want ≈83", seed, pos, v, counts[v])
			}
		}
		if counts[0] != 0 {
			t.Errorf("seed %d: position %d: BOS token drawn as content %d times", seed, pos, counts[0])
		}
	}
}

func TestInductionDeterminism(t *testing.T) {
	c := data.Induction{Vocab: 64, L: 20, MinRepeat: 10, Distinct: true, BOS: true}
	fills := map[string]func(*data.Batch, *rand.Rand){
		"Fill": c.Fill, "FillFixed": c.FillFixed, "FillProbe": c.FillProbe,
	}
	for name, fill := range fills {
		a, b, d := data.NewBatch(8, c.SeqLen()), data.NewBatch(8, c.SeqLen()), data.NewBatch(8, c.SeqLen())
		fill(a, newRNG(3))
		fill(b, newRNG(3))
		fill(d, newRNG(4))
		if !equalBatch(a, b) {
			t.Errorf("%s: seed 3 gave two different batches", name)
		}
		if slices.Equal(a.Tokens, d.Tokens) {
			t.Errorf("%s: seeds 3 and 4 gave the same tokens", name)
		}
	}
	e1, err := c.EvalSet(16, 99)
	if err != nil {
		t.Fatal(err)
	}
	e2, _ := c.EvalSet(16, 99)
	if !equalBatch(e1, e2) {
		t.Error("EvalSet(16, 99) differs between calls")
	}
}

func equalBatch(a, b *data.Batch) bool {
	return a.N == b.N && a.SeqLen == b.SeqLen && slices.Equal(a.Tokens, b.Tokens) &&
		slices.Equal(a.Targets, b.Targets) && slices.Equal(a.Weights, b.Weights) && slices.Equal(a.Repeat, b.Repeat)
}

func TestInductionEvalSet(t *testing.T) {
	for _, c := range inductionConfigs {
		e, err := c.EvalSet(32, 5)
		if err != nil {
			t.Fatalf("%+v.EvalSet: %v", c, err)
		}
		T := e.SeqLen
		checkCommon(t, c, e, func(int) int { return T - c.L })
		for s, ls := range e.Repeat {
			if ls != c.L {
				t.Fatalf("%+v: eval seq %d has Ls %d, want L = %d", c, s, ls, c.L)
			}
			tok, _, _ := e.Seq(s)
			if !slices.Equal(tok[T-2*ls:T-ls], tok[T-ls:]) {
				t.Fatalf("%+v: eval seq %d is not a repeat: %v", c, s, tok)
			}
		}
	}
	if _, err := (data.Induction{Vocab: 64, L: 5, MinRepeat: 9}).EvalSet(4, 1); err == nil {
		t.Error("EvalSet with invalid config: got nil error")
	}
	if _, err := inductionConfigs[0].ProbeSet(0, 1); err == nil {
		t.Error("ProbeSet(0, 1): got nil error")
	}
}

func TestInductionProbe(t *testing.T) {
	for _, c := range inductionConfigs {
		p, err := c.ProbeSet(32, 17)
		if err != nil {
			t.Fatalf("%+v.ProbeSet: %v", c, err)
		}
		period := c.L/2 + 1
		if c.ProbePeriod() != period {
			t.Fatalf("%+v.ProbePeriod() = %d, want %d", c, c.ProbePeriod(), period)
		}
		off := p.SeqLen - 2*c.L
		checkCommon(t, c, p, func(int) int { return off + period })
		for s := range p.N {
			tok, tgt, w := p.Seq(s)
			if p.Repeat[s] != period {
				t.Fatalf("%+v: probe seq %d repeat %d, want %d", c, s, p.Repeat[s], period)
			}
			for i := off + period; i < len(tok); i++ {
				if tok[i] != tok[i-period] {
					t.Fatalf("%+v: probe seq %d not periodic at %d: %v", c, s, i, tok)
				}
			}
			for i := range len(tok) - 1 {
				if w[i] == 1 && tgt[i] != tok[i-period+1] {
					t.Fatalf("%+v: probe seq %d: weighted target[%d] = %d, want token at i−p+1 = %d", c, s, i, tgt[i], tok[i-period+1])
				}
			}
			if c.Distinct {
				q := slices.Clone(tok[off : off+period])
				slices.Sort(q)
				if len(slices.Compact(q)) != period {
					t.Fatalf("%+v: probe seq %d: block %v not distinct", c, s, tok[off:off+period])
				}
			}
		}
	}
}

func TestFillAllocatesNothing(t *testing.T) {
	ind := data.Induction{Vocab: 64, L: 20, MinRepeat: 10, Distinct: true, BOS: true}
	b := data.NewBatch(64, ind.SeqLen())
	pt := data.PrevToken{Vocab: 64, SeqLen: ind.SeqLen(), BOS: true}
	cp := data.Copy{Vocab: 64, SeqLen: ind.SeqLen()}
	pts := make([]float32, 2*512)
	ring := data.Ring8()
	rng := newRNG(1)
	fills := []struct {
		name string
		f    func()
	}{
		{"Induction.Fill", func() { ind.Fill(b, rng) }},
		{"Induction.FillFixed", func() { ind.FillFixed(b, rng) }},
		{"Induction.FillProbe", func() { ind.FillProbe(b, rng) }},
		{"PrevToken.Fill", func() { pt.Fill(b, rng) }},
		{"Copy.Fill", func() { cp.Fill(b, rng) }},
		{"Mixture.Sample", func() { ring.Sample(pts, 512, rng) }},
	}
	for _, tt := range fills {
		if got := testing.AllocsPerRun(20, tt.f); got != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tt.name, got)
		}
	}
}

func TestFillPanics(t *testing.T) {
	c := data.Induction{Vocab: 64, L: 20, MinRepeat: 10}
	tests := []struct {
		name  string
		f     func()
		shape bool // panic value is a ShapeError (else the Validate error)
	}{
		{"wrong seq len", func() { c.Fill(data.NewBatch(2, c.SeqLen()+1), newRNG(1)) }, true},
		{"nil batch", func() { c.Fill(nil, newRNG(1)) }, true},
		{"short slices", func() {
			b := data.NewBatch(2, c.SeqLen())
			b.Repeat = b.Repeat[:1]
			c.FillProbe(b, newRNG(1))
		}, true},
		{"invalid config", func() { data.Induction{Vocab: 64, L: 3, MinRepeat: 4}.Fill(data.NewBatch(1, 6), newRNG(1)) }, false},
		{"copy wrong seq len", func() { data.Copy{Vocab: 4, SeqLen: 5}.Fill(data.NewBatch(1, 6), newRNG(1)) }, true},
		{"short mixture dst", func() { data.Ring8().Sample(make([]float32, 3), 2, newRNG(1)) }, true},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				r := recover()
				if r == nil {
					t.Errorf("%s: no panic", tt.name)
					return
				}
				err, ok := r.(error)
				var se data.ShapeError
				if !ok || errors.As(err, &se) != tt.shape || !strings.HasPrefix(err.Error(), "data: ") {
					t.Errorf("%s: panic %v (%T), want shape error %t with prefix \"data: \"", tt.name, r, r, tt.shape)
				}
			}()
			tt.f()
		}()
	}
}

func BenchmarkInductionFill(b *testing.B) {
	for _, size := range []struct{ batch, l int }{{64, 20}, {256, 64}} {
		c := data.Induction{Vocab: 2 * size.l * 2, L: size.l, MinRepeat: size.l / 2, Distinct: true, BOS: true}
		b.Run(fmt.Sprintf("batch=%d/L=%d", size.batch, size.l), func(b *testing.B) {
			dst := data.NewBatch(size.batch, c.SeqLen())
			rng := newRNG(1)
			b.ReportAllocs()
			for b.Loop() {
				c.Fill(dst, rng)
			}
			b.ReportMetric(float64(b.N)*float64(len(dst.Tokens))/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
