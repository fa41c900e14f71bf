package sae

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/transformer/transformertest"
)

// countedBatches draws batch sequences as a pure function of the number of
// calls made, *calls, which a resumed run restores.
func countedBatches(vocab, batch, pos int, seed uint64, calls *int) Batches {
	return func(context.Context) ([][]int, error) {
		rng := rand.New(rand.NewPCG(seed, uint64(*calls)))
		*calls++
		return transformertest.Tokens(rng, batch, pos, vocab), nil
	}
}

// TestResumeExact trains a TopK SAE with the auxiliary loss (so the
// dead-feature counts matter) and a JumpReLU SAE for 30 steps without a
// break, and again for 12 steps, a checkpoint, a fresh trainer and source
// restored from it, and 18 more: the weights end bit-identical.
func TestResumeExact(t *testing.T) {
	ctx := context.Background()
	m := smallModel(t)
	hook := "blocks.1.hook_resid_mid"
	for _, tc := range []struct {
		cfg Config
		tc  TrainConfig
	}{
		{Config{DIn: 16, DSAE: 48, Activation: TopK, K: 3, HookName: hook}, TrainConfig{Batch: 64, LR: 3e-3, AuxK: 8, AuxCoeff: 1.0 / 32, DeadAfter: 128}},
		{Config{DIn: 16, DSAE: 48, Activation: JumpReLU, HookName: hook}, TrainConfig{Batch: 64, LR: 3e-3, L0: 0.01, Bandwidth: 0.1}},
	} {
		start := func(seed uint64) (*Trainer, *Source, *int) {
			s, err := New(tc.cfg, seed)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := NewTrainer(s, tc.tc)
			if err != nil {
				t.Fatal(err)
			}
			calls := new(int)
			src, err := NewSource(m, hook, "", countedBatches(m.Cfg.DVocab, 4, 12, 9, calls), 512, 3)
			if err != nil {
				t.Fatal(err)
			}
			return tr, src, calls
		}
		whole, wsrc, _ := start(1)
		if _, _, err := whole.Run(ctx, wsrc, 30, nil); err != nil {
			t.Fatal(err)
		}
		first, fsrc, _ := start(1)
		if _, _, err := first.Run(ctx, fsrc, 12, nil); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "ckpt.safetensors")
		if err := first.SaveCheckpoint(path, fsrc, 12, map[string]string{"note": "x"}); err != nil {
			t.Fatal(err)
		}
		second, ssrc, calls := start(2) // another initialisation: the checkpoint overwrites it
		step, md, err := second.LoadCheckpoint(path, ssrc)
		if err != nil {
			t.Fatal(err)
		}
		*calls = ssrc.Runs()
		if step != 12 || md["note"] != "x" {
			t.Errorf("resumed at step %d with metadata %v", step, md)
		}
		if _, _, err := second.Run(ctx, ssrc, 18, nil); err != nil {
			t.Fatal(err)
		}
		a, b := whole.S, second.S
		for _, p := range [][2][]float32{{a.WEnc, b.WEnc}, {a.BEnc, b.BEnc}, {a.WDec, b.WDec}, {a.BDec, b.BDec}, {a.Threshold, b.Threshold}} {
			if !slices.Equal(p[0], p[1]) {
				t.Errorf("%s: the resumed run's weights differ from the uninterrupted run's", tc.cfg.Activation)
				break
			}
		}
		if wsrc.Runs() != ssrc.Runs() {
			t.Errorf("%s: %d model runs uninterrupted, %d resumed", tc.cfg.Activation, wsrc.Runs(), ssrc.Runs())
		}
	}
}
