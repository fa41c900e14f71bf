package lens

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/train/induction"
	"github.com/mechinterp/workbench/transformer"
)

// TestTranslatorGradient checks the tuned lens's gradient, through the
// translator, ln_final recomputed on its output, the unembedding and the KL
// to the final distribution, against central differences for every
// translator parameter.
func TestTranslatorGradient(t *testing.T) {
	for _, name := range []string{"ln_gelu", "rms_relu", "attn_only", "rmspre_tied"} {
		t.Run(name, func(t *testing.T) {
			const seed = 31
			m := newModel(t, variants()[name], seed)
			rng := rand.New(rand.NewPCG(seed, 1))
			data, err := FromTokens(randTokens(rng, 2, 5, tokenVocab(m)), 2)
			if err != nil {
				t.Fatal(err)
			}
			tu := NewTuned(m.Cfg)
			for i := range tu.W { // move away from the identity, where the KL gradient of the last point vanishes
				for j := range tu.W[i] {
					tu.W[i][j] += float32(rng.NormFloat64() * 0.2)
				}
				for j := range tu.B[i] {
					tu.B[i][j] = float32(rng.NormFloat64() * 0.2)
				}
			}
			tr, err := NewTrainer(m, tu, data, TrainConfig{})
			if err != nil {
				t.Fatal(err)
			}
			data.Fill(tr.tokens, tr.rng)
			if err := tr.ws.Forward(context.Background(), tr.tokens, nil); err != nil {
				t.Fatal(err)
			}
			final := slices.Clone(tr.ws.Logits().Data)
			for i := range len(tu.Labels) - 1 {
				x := tr.views[i].Data
				w, b := tr.params[2*i], tr.params[2*i+1]
				clear(w.Grad)
				clear(b.Grad)
				tr.lossAndGrad(i, x, final)
				theta := append(nn.To64(w.Data), nn.To64(b.Data)...)
				analytic := append(nn.To64(w.Grad), nn.To64(b.Grad)...)
				saveW, saveB := slices.Clone(w.Data), slices.Clone(b.Data)
				loss := func(p []float64) float64 {
					nn.To32(w.Data, p[:len(w.Data)])
					nn.To32(b.Data, p[len(w.Data):])
					tu.apply(tr.y, x, i, tr.dec.rows)
					q := tr.dec.forward(tr.y)
					return nn.KLForward(tr.probsP, tr.probsQ, final, q, nil, tr.dec.rows, m.Cfg.DVocabOut)
				}
				e, at := nn.GradCheck(loss, theta, analytic, reluFreeStep)
				copy(w.Data, saveW)
				copy(b.Data, saveB)
				if e > gradCheckTol {
					t.Errorf("%s: translator gradient error %.3g at parameter %d > %g (seed %d)", tu.Labels[i], e, at, gradCheckTol, seed)
				}
			}
		})
	}
}

func TestIdentityTunedIsLogitLens(t *testing.T) {
	m := newModel(t, variants()["ln_gelu"], 5)
	toks := randTokens(rand.New(rand.NewPCG(3, 3)), 2, 6, m.Cfg.DVocab)
	ctx := context.Background()
	a, err := Logit(ctx, m, toks, Options{Logits: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewTuned(m.Cfg).Evaluate(ctx, m, toks, Options{Logits: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if !slices.Equal(a[i].Logits.Data, b[i].Logits.Data) {
			t.Errorf("%s: the identity tuned lens decodes differently from the logit lens", a[i].Label)
		}
	}
}

func TestTunedSaveLoad(t *testing.T) {
	m := newModel(t, variants()["ln_gelu"], 6)
	tu := NewTuned(m.Cfg)
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range tu.W {
		for j := range tu.W[i] {
			tu.W[i][j] = float32(rng.NormFloat64())
		}
		tu.B[i][0] = float32(i)
	}
	path := filepath.Join(t.TempDir(), "tuned.safetensors")
	if err := tu.Save(path, map[string]string{"steps": "7"}); err != nil {
		t.Fatal(err)
	}
	got, err := LoadTuned(path, m.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Labels, tu.Labels) {
		t.Errorf("labels %q, want %q", got.Labels, tu.Labels)
	}
	for i := range tu.W {
		if !slices.Equal(got.W[i], tu.W[i]) || !slices.Equal(got.B[i], tu.B[i]) {
			t.Errorf("translator %d changed in the round trip", i)
		}
	}
	other := variants()["attn_only"].WithDefaults()
	if _, err := LoadTuned(path, other); err == nil || !strings.Contains(err.Error(), "points") {
		t.Errorf("loading a lens for another architecture: %v", err)
	}
	modelPath := filepath.Join(t.TempDir(), "model.safetensors")
	if err := m.Save(modelPath, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTuned(modelPath, m.Cfg); err == nil || !strings.Contains(err.Error(), "not a tuned lens") {
		t.Errorf("loading a model checkpoint as a tuned lens: %v", err)
	}
	if _, err := LoadTuned(filepath.Join(t.TempDir(), "missing.safetensors"), m.Cfg); err == nil {
		t.Error("loading a missing file succeeded")
	}
	if _, err := NewTuned(other).Evaluate(context.Background(), m, [][]int{{1, 2}}, Options{}); err == nil {
		t.Error("evaluating a lens made for another architecture succeeded")
	}
}

func TestTrainDeterministicAndCancellable(t *testing.T) {
	m := newModel(t, variants()["ln_gelu"], 8)
	data := Data{Batch: 3, Pos: 6, Fill: func(dst []int32, rng *rand.Rand) {
		for i := range dst {
			dst[i] = int32(rng.IntN(m.Cfg.DVocab))
		}
	}}
	ctx := context.Background()
	cfg := TrainConfig{Steps: 5, LR: 0.5, Seed: 9}
	a, err := Train(ctx, m, data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(ctx, m, data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.W {
		if !slices.Equal(a.W[i], b.W[i]) || !slices.Equal(a.B[i], b.B[i]) {
			t.Fatalf("translator %d differs between two runs with seed %d", i, cfg.Seed)
		}
	}
	if last := len(a.W) - 1; !slices.Equal(a.W[last], NewTuned(m.Cfg).W[last]) {
		t.Error("the final point's translator moved from the identity")
	}
	cctx, cancel := context.WithCancel(ctx)
	steps := 0
	cfg.Progress = func(step int, kl float64) {
		if steps++; step == 2 {
			cancel()
		}
	}
	if _, err := Train(cctx, m, data, cfg); !errors.Is(err, context.Canceled) || steps != 2 {
		t.Errorf("cancelled after step 2: error %v after %d steps", err, steps)
	}
	bad := data
	bad.Fill = func(dst []int32, _ *rand.Rand) { dst[3] = 99 }
	if _, err := Train(ctx, m, bad, cfg); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("training on an invalid token: %v", err)
	}
	if _, err := Train(ctx, m, Data{Batch: 1, Pos: 99, Fill: data.Fill}, cfg); err == nil {
		t.Error("training on sequences longer than n_ctx was accepted")
	}
}

func TestTrainerStepAllocatesNothing(t *testing.T) {
	for _, name := range []string{"attn_only", "ln_gelu"} {
		m := newModel(t, variants()[name], 2)
		data, err := FromTokens(randTokens(rand.New(rand.NewPCG(1, 1)), 4, 8, tokenVocab(m)), 2)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := NewTrainer(m, NewTuned(m.Cfg), data, TrainConfig{Steps: 100})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		step := func() {
			if _, err := tr.Step(ctx); err != nil {
				t.Fatal(err)
			}
		}
		step()
		if a := testing.AllocsPerRun(5, step); a != 0 {
			t.Errorf("%s: a tuned-lens training step allocates %v times", name, a)
		}
	}
}

// klMargin is how far below the logit lens's KL the trained tuned lens's
// must be at each non-final point, in nats: a clear improvement, not noise.
const klMargin = 1e-3

// TestTunedBeatsLogitLens trains a tuned lens on an induction model
// trained in the test, on its own task (repeated random tokens), and checks
// that on held-out sequences its KL to
// the final distribution is below the logit lens's at every point but the
// last.
func TestTunedBeatsLogitLens(t *testing.T) {
	m, data, held := inductionSetup(t)
	steps := 100 // the KL has plateaued by then (lr 1, batch 8)
	if testing.Short() {
		steps = 40
	}
	ctx := context.Background()
	tu, err := Train(ctx, m, data, TrainConfig{Steps: steps, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ll, err := Logit(ctx, m, held, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tl, err := tu.Evaluate(ctx, m, held, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range ll {
		t.Logf("%-26s KL logit %.4f tuned %.4f | loss logit %.4f tuned %.4f | acc logit %.3f tuned %.3f",
			ll[i].Label, ll[i].KLToFinal, tl[i].KLToFinal, ll[i].Loss, tl[i].Loss, ll[i].Accuracy, tl[i].Accuracy)
		if i < len(ll)-1 && !(tl[i].KLToFinal < ll[i].KLToFinal-klMargin) {
			t.Errorf("%s: tuned lens KL %.4f is not below the logit lens's %.4f", ll[i].Label, tl[i].KLToFinal, ll[i].KLToFinal)
		}
	}
}

// inductionSetup returns a 2-layer attention-only model trained for 400
// steps on repeated random tokens (train/induction's task: d_model 32, 16
// tokens, 12 positions; under a second), a training stream of repeated
// random tokens like the one it was trained on, and held-out sequences
// from another seed.
func inductionSetup(t *testing.T) (*transformer.Model, Data, [][]int) {
	t.Helper()
	c := induction.Default()
	c.DVocab, c.SeqLen, c.MinRepeat, c.DModel, c.NHeads, c.DHead = 16, 6, 3, 32, 2, 16
	c.Batch, c.LR, c.EvalEvery, c.Steps = 32, 0.003, 100, 400
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := induction.Train(context.Background(), c, dir, induction.Options{}); err != nil {
		t.Fatal(err)
	}
	m, err := transformer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	pos, vocab := m.Cfg.NCtx, m.Cfg.DVocab
	fill := func(dst []int32, rng *rand.Rand) {
		for b := 0; b < len(dst)/pos; b++ {
			repeatedSeq(dst[b*pos:(b+1)*pos], vocab, rng)
		}
	}
	held := make([][]int, 32)
	rng := rand.New(rand.NewPCG(1234, 5678))
	buf := make([]int32, pos)
	for b := range held {
		repeatedSeq(buf, vocab, rng)
		held[b] = make([]int, pos)
		for p, v := range buf {
			held[b][p] = int(v)
		}
	}
	return m, Data{Batch: 8, Pos: pos, Fill: fill}, held
}

// repeatedSeq fills dst with distinct random filler tokens and a block of
// Ls distinct tokens repeated twice at the end, Ls uniform in
// [len(dst)/8, len(dst)/2].
func repeatedSeq(dst []int32, vocab int, rng *rand.Rand) {
	T := len(dst)
	ls := T/8 + rng.IntN(T/2-T/8+1)
	perm := rng.Perm(vocab)
	for i := range T - ls {
		dst[i] = int32(perm[i%vocab])
	}
	copy(dst[T-ls:], dst[T-2*ls:T-ls])
}

// TestFromTokensBatch checks that FromTokens takes its batch literally: a
// batch of 0 is an error, not "all the sequences".
func TestFromTokensBatch(t *testing.T) {
	toks := randTokens(rand.New(rand.NewPCG(3, 3)), 3, 4, 5)
	for _, batch := range []int{0, -1} {
		if _, err := FromTokens(toks, batch); err == nil || !strings.Contains(err.Error(), "batch") {
			t.Errorf("batch %d: error %v, want one naming the batch", batch, err)
		}
	}
	d, err := FromTokens(toks, len(toks))
	if err != nil || d.Batch != 3 || d.Pos != 4 {
		t.Fatalf("FromTokens(3 sequences, 3) = batch %d pos %d, %v", d.Batch, d.Pos, err)
	}
	dst := make([]int32, 12)
	d.Fill(dst, nil)
	for b := range 3 {
		for p := range 4 {
			if int(dst[b*4+p]) != toks[b][p] {
				t.Fatalf("filled token (%d, %d) = %d, want %d", b, p, dst[b*4+p], toks[b][p])
			}
		}
	}
}
