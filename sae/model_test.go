package sae

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

func smallModel(t *testing.T) *transformer.Model {
	c := transformer.Config{NLayers: 2, DModel: 16, NHeads: 2, DHead: 8, DMLP: 32, DVocab: 20, NCtx: 12,
		NormalizationType: transformer.NormLN, ActFn: transformer.ActGELU}
	return transformertest.Random(t, c, 4)
}

func randomBatches(vocab, batch, pos int, seed uint64) Batches {
	rng := rand.New(rand.NewPCG(seed, 1))
	return func(context.Context) ([][]int, error) { return transformertest.Tokens(rng, batch, pos, vocab), nil }
}

// TestSpliceExact: the dictionary x = relu(x) − relu(−x) (W_enc = [I, −I],
// W_dec = [I; −I]) reconstructs exactly, so splicing it in leaves the loss
// unchanged: CE recovered 1, FVU 0; zeroing the activation is the ablated
// loss. For a transcoder the same identity from the MLP's output to
// itself.
func TestSpliceExact(t *testing.T) {
	ctx := context.Background()
	m := smallModel(t)
	d := m.Cfg.DModel
	s, err := New(Config{DIn: d, DSAE: 2 * d, Activation: ReLU, HookName: "blocks.1.hook_resid_mid"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	clear(s.WEnc)
	clear(s.WDec)
	for i := range d {
		s.WEnc[i*2*d+i], s.WEnc[i*2*d+d+i] = 1, -1
		s.WDec[i*d+i], s.WDec[(d+i)*d+i] = 1, -1
	}
	tokens := transformertest.Tokens(rand.New(rand.NewPCG(1, 1)), 4, 12, m.Cfg.DVocab)
	f, err := s.Evaluate(ctx, m, tokens)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(f.SpliceLoss-f.CleanLoss) > 1e-6 || math.Abs(f.CERecovered-1) > 1e-5 || f.FVU > 1e-10 {
		t.Errorf("identity dictionary: clean %g, spliced %g, recovered %g, FVU %g", f.CleanLoss, f.SpliceLoss, f.CERecovered, f.FVU)
	}
	if f.AblatedLoss == f.CleanLoss {
		t.Errorf("zeroing resid_mid left the loss at %g", f.AblatedLoss)
	}
	if f.L0 > float64(d) || f.L0 < 1 {
		t.Errorf("L0 %g outside [1, %d]", f.L0, d)
	}
}

// TestTrainOnModel trains a TopK SAE on a model's streamed residual
// stream and a transcoder on its MLP, and checks they learn: FVU falls
// well below 1 and most of the loss is recovered.
func TestTrainOnModel(t *testing.T) {
	ctx := context.Background()
	m := smallModel(t)
	d := m.Cfg.DModel
	for _, c := range []Config{
		{DIn: d, DSAE: 64, Activation: TopK, K: 8, HookName: "blocks.1.hook_resid_mid"},
		{DIn: d, DSAE: 64, Activation: TopK, K: 8, HookName: "blocks.0.ln2.hook_normalized", HookNameOut: "blocks.0.hook_mlp_out", Transcoder: true},
	} {
		s, err := New(c, 2)
		if err != nil {
			t.Fatal(err)
		}
		src, err := NewSource(m, c.HookName, c.HookNameOut, randomBatches(m.Cfg.DVocab, 16, 12, 3), 4096, 5)
		if err != nil {
			t.Fatal(err)
		}
		const B = 128
		tr, err := NewTrainer(s, TrainConfig{Batch: B, LR: 2e-3, AuxK: 16, AuxCoeff: 1.0 / 32})
		if err != nil {
			t.Fatal(err)
		}
		x, y := make([]float32, B*d), make([]float32, B*d)
		var st Stats
		for range 1500 {
			if err := src.Next(ctx, x, y, B); err != nil {
				t.Fatal(err)
			}
			target := []float32(nil)
			if c.Transcoder {
				target = y
			}
			st = tr.Step(x, target)
		}
		f, err := s.Evaluate(ctx, m, transformertest.Tokens(rand.New(rand.NewPCG(8, 8)), 8, 12, m.Cfg.DVocab))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s transcoder=%v: train FVU %.3f; held out: FVU %.3f, L0 %.1f, CE recovered %.3f, dead %.2f (%d model runs)",
			c.HookName, c.Transcoder, st.FVU, f.FVU, f.L0, f.CERecovered, f.DeadFraction, src.Runs())
		if f.FVU > 0.3 || f.CERecovered < 0.7 {
			t.Errorf("%s: FVU %.3f, CE recovered %.3f", c.HookName, f.FVU, f.CERecovered)
		}
		if f.L0 > 8 || f.L0 < 7 { // k, less where fewer than k pre-activations are positive
			t.Errorf("TopK k=8: L0 %g", f.L0)
		}
	}
}
