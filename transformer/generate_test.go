package transformer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// cacheLogitTol bounds |cached − full-forward| logits: the cached step
// computes the same sums as the forward pass in another order (one query
// against cached keys instead of the whole causal square), so they differ
// by float32 rounding, ~1e-6 relative on logits of size ~10.
const cacheLogitTol = 1e-4

// genConfigs are tiny models covering every architecture the forward pass
// implements: variants' normalizations, shortformer positions, tied and
// narrower unembeddings with a context long enough to generate in, and
// Llama-family models (rotary full and partial, grouped-query and
// multi-query attention, gated and parallel MLPs).
func genConfigs() map[string]Config {
	v := map[string]Config{}
	for name, c := range variants() {
		c.NCtx = 24
		v[name] = c
	}
	llama := Config{NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DMLP: 20, DVocab: 13, NCtx: 24, Seed: 5,
		NormalizationType: NormRMS, PositionalEmbeddingType: PosRotary, NKeyValueHeads: 2, GatedMLP: true, ActFn: ActSiLU, TiedEmbeddings: true}
	v["llama"] = llama
	neox := llama
	neox.NormalizationType, neox.RotaryDim, neox.NKeyValueHeads = NormLN, 2, 0
	neox.GatedMLP, neox.ActFn, neox.TiedEmbeddings, neox.ParallelAttnMLP = false, ActGELU, false, true
	v["neox_partial_rotary_parallel"] = neox
	mqa := llama
	mqa.AttnOnly, mqa.GatedMLP, mqa.ActFn, mqa.NKeyValueHeads, mqa.RotaryBase = true, false, "", 1, 100
	v["rotary_mqa_attn_only"] = mqa
	gqa := neox
	gqa.PositionalEmbeddingType, gqa.RotaryDim, gqa.ParallelAttnMLP, gqa.NKeyValueHeads = PosStandard, 0, false, 2
	v["gqa_ln"] = gqa
	// GPT-Neo's attention: no scaling, global and local blocks (a window
	// shorter than the prompts), and GPT-2's inverse-layer scaling.
	neo := gqa
	neo.NKeyValueHeads, neo.AttnScale, neo.UseLocalAttn, neo.WindowSize = 0, 1, true, 3
	neo.AttnTypes, _ = NewAttnTypes(AttnGlobal, AttnLocal)
	v["neo_local_unscaled"] = neo
	inv := gqa
	inv.NKeyValueHeads, inv.ScaleAttnByInverseLayerIdx = 0, true
	v["inverse_layer_scaled"] = inv
	return v
}

func newGenModel(t testing.TB, c Config, seed uint64) *Model {
	t.Helper()
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	randomize(m, seed)
	return m
}

// genPrompts returns prompts of the given lengths, ids below vocab.
func genPrompts(seed uint64, vocab int, lens ...int) [][]int32 {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([][]int32, len(lens))
	for i, n := range lens {
		out[i] = make([]int32, n)
		for j := range out[i] {
			out[i][j] = int32(rng.IntN(vocab))
		}
	}
	return out
}

// fullLogits runs the full forward pass (no cache) on seq and returns the
// logits at its last position.
func fullLogits(t *testing.T, m *Model, seq []int32) []float32 {
	t.Helper()
	ints := make([]int, len(seq))
	for i, v := range seq {
		ints[i] = int(v)
	}
	logits, err := m.Run(context.Background(), [][]int{ints}, nil)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Cfg.DVocabOut
	return logits.Data[(len(seq)-1)*V:]
}

// refArgmax is the test's own argmax: the largest logit, the lowest id on
// ties; it also returns the gap to the runner-up.
func refArgmax(x []float32) (best int, gap float64) {
	best, second := 0, math.Inf(-1)
	for j := 1; j < len(x); j++ {
		switch {
		case x[j] > x[best]:
			second = float64(x[best])
			best = j
		case float64(x[j]) > second:
			second = float64(x[j])
		}
	}
	return best, float64(x[best]) - second
}

// TestGenerateGreedyMatchesFullForward: greedy decoding with the cache
// picks, at every step, the argmax of the full forward pass's logits
// recomputed from scratch on the sequence so far.
func TestGenerateGreedyMatchesFullForward(t *testing.T) {
	for name, c := range genConfigs() {
		t.Run(name, func(t *testing.T) {
			m := newGenModel(t, c, 11)
			prompts := genPrompts(3, min(c.DVocab, m.Cfg.DVocabOut), 3, 1, 6)
			const maxNew = 10
			got, err := m.Generate(context.Background(), prompts, GenerateOptions{MaxNew: maxNew})
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range prompts {
				if len(got[i]) != maxNew {
					t.Fatalf("prompt %d: %d new tokens, want %d", i, len(got[i]), maxNew)
				}
				seq := slices.Clone(p)
				for s := range maxNew {
					want, gap := refArgmax(fullLogits(t, m, seq))
					if gap < 10*cacheLogitTol {
						t.Fatalf("prompt %d step %d: a near tie (gap %g) makes the test meaningless; change the seed", i, s, gap)
					}
					if int(got[i][s]) != want {
						t.Fatalf("prompt %d %v step %d: cached greedy gave %d, full forward's argmax is %d (got %v)", i, p, s, got[i][s], want, got[i])
					}
					seq = append(seq, int32(want))
				}
			}
		})
	}
}

// TestDecoderLogitsMatchFullForward: the logits of every cached decoding
// step, for several sequences of different lengths decoded together, equal
// the full forward pass's last-position logits within cacheLogitTol.
func TestDecoderLogitsMatchFullForward(t *testing.T) {
	for name, c := range genConfigs() {
		t.Run(name, func(t *testing.T) {
			m := newGenModel(t, c, 12)
			vocab := min(c.DVocab, m.Cfg.DVocabOut)
			prompts := genPrompts(4, vocab, 5, 2, 7)
			conts := genPrompts(5, c.DVocab, 8, 8, 8) // fed tokens, not sampled
			caps := []int{13, 10, 15}
			for _, workers := range []int{1, 2} {
				dec := newDecoder(m, caps, workers)
				seqs := make([][]int32, len(prompts))
				for b, p := range prompts {
					logits, err := dec.prefill(context.Background(), b, p)
					if err != nil {
						t.Fatal(err)
					}
					checkClose(t, fmt.Sprintf("prefill %d", b), logits, fullLogits(t, m, p))
					seqs[b] = slices.Clone(p)
				}
				live := []int{0, 1, 2}
				V := m.Cfg.DVocabOut
				for s := range 8 {
					if s == 3 {
						live = []int{0, 2} // sequence 1 leaves: the rows compact
					}
					toks := make([]int32, len(live))
					for r, b := range live {
						toks[r] = conts[b][s]
					}
					logits := dec.step(live, toks)
					for r, b := range live {
						seqs[b] = append(seqs[b], toks[r])
						checkClose(t, fmt.Sprintf("workers %d, sequence %d, step %d", workers, b, s), logits[r*V:(r+1)*V], fullLogits(t, m, seqs[b]))
					}
				}
				dec.close()
			}
		})
	}
}

func checkClose(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for j := range got {
		if d := math.Abs(float64(got[j] - want[j])); !(d <= cacheLogitTol) {
			t.Fatalf("%s: logit %d = %g, full forward %g (|Δ| %g > %g)", what, j, got[j], want[j], d, cacheLogitTol)
		}
	}
}

// TestGenerateBatchedEqualsOneByOne: prompts of different lengths
// generated in one batch give exactly the tokens each gives alone
// (TransformerLens issue #1005 is the bug where left padding changes
// them), greedy and sampled, with sequences leaving the batch at EOS.
func TestGenerateBatchedEqualsOneByOne(t *testing.T) {
	ctx := context.Background()
	for name, c := range genConfigs() {
		t.Run(name, func(t *testing.T) {
			m := newGenModel(t, c, 13)
			prompts := genPrompts(6, min(c.DVocab, m.Cfg.DVocabOut), 1, 7, 3, 4)
			for _, opts := range []GenerateOptions{
				{MaxNew: 9},
				{MaxNew: 9, Temperature: 1.3, TopK: 5, TopP: 0.9, Seed: 8},
				{MaxNew: 9, Temperature: 0.8, Seed: 9, EOS: []int32{1, 2}},
			} {
				batched, err := m.Generate(ctx, prompts, opts)
				if err != nil {
					t.Fatal(err)
				}
				for i, p := range prompts {
					// Alone, prompt i draws from stream 0; in the batch from
					// stream i. Give it stream i alone by padding the batch
					// in front with copies of other prompts.
					pre := slices.Repeat([][]int32{prompts[0]}, i)
					alone, err := m.Generate(ctx, append(pre, p), opts)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(batched[i], alone[i]) {
						t.Errorf("%+v: prompt %d %v: batched %v, alone %v", opts, i, p, batched[i], alone[i])
					}
				}
				if opts.Temperature == 0 {
					for i, p := range prompts {
						alone, err := m.Generate(ctx, [][]int32{p}, opts)
						if err != nil {
							t.Fatal(err)
						}
						if !slices.Equal(batched[i], alone[0]) {
							t.Errorf("greedy: prompt %d %v: batched %v, alone %v", i, p, batched[i], alone[0])
						}
					}
				}
			}
		})
	}
}

// TestGenerateWorkersBitIdentical: splitting a step's products between
// workers (a model big enough for the split) changes no bit of the logits.
func TestGenerateWorkersBitIdentical(t *testing.T) {
	c := Config{NLayers: 1, DModel: 64, NHeads: 2, DHead: 32, DMLP: 1000, DVocab: 700, NCtx: 16, NormalizationType: NormLN, TiedEmbeddings: true}
	m := newGenModel(t, c, 14)
	if m.Cfg.DModel*m.Cfg.DMLP < linearMinSplit || m.Cfg.DModel*m.Cfg.DVocab < linearMinSplit {
		t.Fatal("the model is too small for the workers to split its products")
	}
	prompts := genPrompts(7, c.DVocab, 3, 5)
	var logits [2][]float32
	for i, workers := range []int{1, 2} {
		dec := newDecoder(m, []int{8, 8}, workers)
		for b, p := range prompts {
			if _, err := dec.prefill(context.Background(), b, p); err != nil {
				t.Fatal(err)
			}
		}
		logits[i] = slices.Clone(dec.step([]int{0, 1}, []int32{4, 9}))
		dec.close()
	}
	for j := range logits[0] {
		if math.Float32bits(logits[0][j]) != math.Float32bits(logits[1][j]) {
			t.Fatalf("logit %d: one worker %g, two %g", j, logits[0][j], logits[1][j])
		}
	}
}

// TestGenerateEOS: a sequence stops right after its EOS token, which is its
// last new token; before it, the tokens are those generated without EOS;
// the other sequences of the batch go on.
func TestGenerateEOS(t *testing.T) {
	ctx := context.Background()
	m := newGenModel(t, genConfigs()["ln_gelu"], 15)
	prompts := genPrompts(8, m.Cfg.DVocab, 4, 2)
	free, err := m.Generate(ctx, prompts, GenerateOptions{MaxNew: 12})
	if err != nil {
		t.Fatal(err)
	}
	// The EOS is prompt 0's third new token, unless it appears earlier.
	eos := free[0][2]
	stop := slices.Index(free[0], eos)
	got, err := m.Generate(ctx, prompts, GenerateOptions{MaxNew: 12, EOS: []int32{eos}})
	if err != nil {
		t.Fatal(err)
	}
	if want := free[0][:stop+1]; !slices.Equal(got[0], want) {
		t.Errorf("prompt 0 with EOS %d: %v, want %v (free run %v)", eos, got[0], want, free[0])
	}
	want1 := free[1]
	if k := slices.Index(free[1], eos); k >= 0 {
		want1 = free[1][:k+1]
	}
	if !slices.Equal(got[1], want1) {
		t.Errorf("prompt 1 with EOS %d: %v, want %v", eos, got[1], want1)
	}
}

// TestGenerateFeedBackRefused: a model whose d_vocab_out exceeds d_vocab
// may emit an id it cannot read: fine as the last token or as EOS, an
// error when it has to be fed back.
func TestGenerateFeedBackRefused(t *testing.T) {
	ctx := context.Background()
	c := genConfigs()["attn_only"]
	c.DVocabOut = c.DVocab + 3
	m := newGenModel(t, c, 16)
	out := int32(c.DVocab + 1)
	m.P.BU[out] = 1e3 // always the argmax
	p := [][]int32{{1, 2}}
	if got, err := m.Generate(ctx, p, GenerateOptions{MaxNew: 1}); err != nil || !slices.Equal(got[0], []int32{out}) {
		t.Errorf("one new token: %v, %v; want [%d]", got, err, out)
	}
	if got, err := m.Generate(ctx, p, GenerateOptions{MaxNew: 4, EOS: []int32{out}}); err != nil || !slices.Equal(got[0], []int32{out}) {
		t.Errorf("EOS %d: %v, %v; want [%d]", out, got, err, out)
	}
	if _, err := m.Generate(ctx, p, GenerateOptions{MaxNew: 2}); err == nil || !strings.Contains(err.Error(), "cannot be fed back") {
		t.Errorf("feeding back %d: err %v, want one saying it cannot be fed back", out, err)
	}
}

// TestGenerateValidation: bad options and prompts are errors naming them.
func TestGenerateValidation(t *testing.T) {
	m := newGenModel(t, genConfigs()["ln_gelu"], 17) // n_ctx 24, d_vocab 11
	ok := [][]int32{{1, 2, 3}}
	for _, tc := range []struct {
		prompts [][]int32
		opts    GenerateOptions
		want    string
	}{
		{ok, GenerateOptions{MaxNew: -1}, "max_new"},
		{ok, GenerateOptions{MaxNew: 22}, "n_ctx"},
		{ok, GenerateOptions{MaxNew: 1 << 40}, "n_ctx"},
		{ok, GenerateOptions{MaxNew: 2, Temperature: -1}, "temperature"},
		{ok, GenerateOptions{MaxNew: 2, Temperature: math.NaN()}, "temperature"},
		{ok, GenerateOptions{MaxNew: 2, Temperature: math.Inf(1)}, "temperature"},
		{ok, GenerateOptions{MaxNew: 2, Temperature: 1, TopK: -1}, "top-k"},
		{ok, GenerateOptions{MaxNew: 2, Temperature: 1, TopP: 1.5}, "top-p"},
		{ok, GenerateOptions{MaxNew: 2, Temperature: 1, TopP: math.NaN()}, "top-p"},
		{ok, GenerateOptions{MaxNew: 2, TopK: 3}, "need temperature > 0"},
		{ok, GenerateOptions{MaxNew: 2, TopP: 0.5}, "need temperature > 0"},
		{ok, GenerateOptions{MaxNew: 2, EOS: []int32{13}}, "eos id 13"},
		{ok, GenerateOptions{MaxNew: 2, EOS: []int32{-1}}, "eos id -1"},
		{nil, GenerateOptions{MaxNew: 2}, "no prompts"},
		{[][]int32{{1}, {}}, GenerateOptions{MaxNew: 2}, "prompt 1 is empty"},
		{[][]int32{{1}, {2, 13}}, GenerateOptions{MaxNew: 2}, "prompt 1 position 1: token 13"},
		{[][]int32{{-4}}, GenerateOptions{MaxNew: 2}, "token -4"},
		{[][]int32{make([]int32, 20)}, GenerateOptions{MaxNew: 5}, "prompt 0 has 20 tokens"},
	} {
		_, err := m.Generate(context.Background(), tc.prompts, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "transformer: generate: ") {
			t.Errorf("Generate(%v, %+v): err %v, want one containing %q", tc.prompts, tc.opts, err, tc.want)
		}
	}
	// The longest sequence that fits n_ctx is allowed; zero new tokens too.
	for _, n := range []int{0, 21} {
		got, err := m.Generate(context.Background(), ok, GenerateOptions{MaxNew: n})
		if err != nil || len(got) != 1 || len(got[0]) != n {
			t.Errorf("MaxNew %d: %v, %v", n, got, err)
		}
	}
}

// countdownCtx is a context whose Err turns to Canceled after n calls.
type countdownCtx struct {
	context.Context
	n *int
}

func (c countdownCtx) Err() error {
	if *c.n--; *c.n < 0 {
		return context.Canceled
	}
	return nil
}

// TestGenerateContext: Generate checks ctx before each prefill and each
// decoding step, returning its error.
func TestGenerateContext(t *testing.T) {
	m := newGenModel(t, genConfigs()["attn_only"], 18)
	prompts := [][]int32{{1, 2}, {3}}
	for n := range 8 {
		left := n
		_, err := m.Generate(countdownCtx{context.Background(), &left}, prompts, GenerateOptions{MaxNew: 10})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ctx done after %d checks: err %v, want context.Canceled", n, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Generate(ctx, prompts, GenerateOptions{MaxNew: 3}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: err %v", err)
	}
}

// TestGenerateSeeded: sampling repeats with the seed, differs across seeds,
// and top-k 1 at any temperature is greedy.
func TestGenerateSeeded(t *testing.T) {
	ctx := context.Background()
	m := newGenModel(t, genConfigs()["rms_relu"], 19)
	p := [][]int32{{0, 5}}
	run := func(o GenerateOptions) []int32 {
		t.Helper()
		o.MaxNew = 16
		got, err := m.Generate(ctx, p, o)
		if err != nil {
			t.Fatal(err)
		}
		return got[0]
	}
	a, b := run(GenerateOptions{Temperature: 1, Seed: 3}), run(GenerateOptions{Temperature: 1, Seed: 3})
	if !slices.Equal(a, b) {
		t.Errorf("seed 3 twice: %v and %v", a, b)
	}
	if c := run(GenerateOptions{Temperature: 1, Seed: 4}); slices.Equal(a, c) {
		t.Errorf("seeds 3 and 4 both gave %v", a)
	}
	if g, k1 := run(GenerateOptions{}), run(GenerateOptions{Temperature: 5, TopK: 1, Seed: 1}); !slices.Equal(g, k1) {
		t.Errorf("top-1 sampling %v differs from greedy %v", k1, g)
	}
}
