package gan

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/train"
)

// TestTrainResume checks, for every loss, that a run interrupted after 6
// steps and resumed gives bit-identical weights to an uninterrupted run of
// 10, and that the final checkpoint loads with Load.
func TestTrainResume(t *testing.T) {
	for _, loss := range []string{LossNonSaturating, LossMinimax, LossWGAN} {
		t.Run(loss, func(t *testing.T) {
			cfg := tinyConfigs()["dcgan"]
			src := noiseImages{c: 2, h: 8, w: 4}
			o := DefaultTrainOptions(loss)
			o.Steps, o.Batch, o.LogEvery, o.CheckpointEvery, o.Seed = 10, 4, 2, 3, 9
			run := func(dir string, steps int, resume bool) *Model {
				t.Helper()
				m := mustNew(t, cfg)
				oo := o
				oo.Dir, oo.Resume = dir, resume
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if steps < o.Steps {
					oo.Listeners = []func(train.Record){func(r train.Record) {
						if r["step"] == steps {
							cancel()
						}
					}}
				}
				sum, err := Train(ctx, m, src, oo)
				if steps < o.Steps {
					if !errors.Is(err, context.Canceled) || !sum.Interrupted || sum.Steps != steps {
						t.Fatalf("interrupted run: %v, %+v", err, sum)
					}
					return m
				}
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
			whole := run(t.TempDir(), 10, false)
			dir := t.TempDir()
			run(dir, 6, false)
			resumed := run(dir, 10, true)
			for i, p := range whole.tensors() {
				if !slices.Equal(p.Data(), resumed.tensors()[i].Data()) {
					t.Errorf("tensor group %d differs after resuming", i)
				}
			}
			loaded, err := Load(train.CheckpointPath(dir, 10))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(loaded.G.P.Data(), whole.G.P.Data()) {
				t.Error("the final checkpoint does not hold the final generator")
			}
		})
	}
}

// noiseImages is a Source of uniform noise images in [−1, 1].
type noiseImages struct{ c, h, w int }

func (s noiseImages) Fill(dst []float32, n int, rng *rand.Rand) {
	for i := range dst[:n*s.c*s.h*s.w] {
		dst[i] = float32(2*rng.Float64() - 1)
	}
}

func TestSaveLoad(t *testing.T) {
	for name, cfg := range tinyConfigs() {
		m := mustNew(t, cfg)
		path := filepath.Join(t.TempDir(), "m.safetensors")
		if err := m.Save(path, map[string]string{"note": "x"}); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if got.Cfg != m.Cfg {
			t.Errorf("%s: config %+v, want %+v", name, got.Cfg, m.Cfg)
		}
		for i, p := range m.tensors() {
			if !slices.Equal(p.Data(), got.tensors()[i].Data()) {
				t.Errorf("%s: tensor group %d differs", name, i)
			}
		}
	}
	// A CNN-shaped or foreign checkpoint is an error, not a panic.
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := checkpoint.WriteFile(path, []checkpoint.Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil {
		t.Error("Load accepted a checkpoint without a GAN config")
	}
	m := mustNew(t, tinyConfigs()["mlp"])
	if err := m.Save(path, nil); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	other := mustNew(t, MLP())
	if err := other.LoadStateDict(f); err == nil {
		t.Error("LoadStateDict accepted tensors of another shape")
	}
}

// TestStepAllocs checks that a training step allocates nothing once the
// workspaces exist, with and without the worker pool.
func TestStepAllocs(t *testing.T) {
	for name, cfg := range tinyConfigs() {
		for _, workers := range []int{1, 2} {
			m := mustNew(t, cfg)
			var src Source = noiseImages{c: 2, h: 8, w: 4}
			if cfg.Arch == ArchMLP {
				src = MixtureSource{data.Ring8()}
			}
			o := DefaultTrainOptions(LossNonSaturating)
			o.Batch = 4
			tr, err := newTrainer(m, src, o)
			if err != nil {
				t.Fatal(err)
			}
			tr.start(workers)
			defer tr.close()
			ctx := context.Background()
			s := 0
			step := func() {
				if _, err := tr.Step(ctx, s); err != nil {
					t.Fatal(err)
				}
				s++
			}
			step()
			if a := testing.AllocsPerRun(5, step); a != 0 {
				t.Errorf("%s, %d workers: a training step allocates %v times", name, workers, a)
			}
		}
	}
}

// TestWorkersDoNotMatter checks that the result depends on the shards but
// not on the number of workers running them.
func TestWorkersDoNotMatter(t *testing.T) {
	cfg := tinyConfigs()["dcgan"]
	final := func(shards, workers int) []float32 {
		m := mustNew(t, cfg)
		o := DefaultTrainOptions(LossNonSaturating)
		o.Steps, o.Batch, o.Shards, o.Workers, o.Dir = 5, 6, shards, workers, t.TempDir()
		if _, err := Train(context.Background(), m, noiseImages{c: 2, h: 8, w: 4}, o); err != nil {
			t.Fatal(err)
		}
		return append(m.G.P.Data(), m.G.Buffers.Data()...)
	}
	one, two := final(3, 1), final(3, 2)
	if !slices.Equal(one, two) {
		t.Error("3 shards on 1 and 2 workers give different generators")
	}
	if slices.Equal(one, final(1, 1)) {
		t.Error("1 and 3 shards give identical generators: sharding has no effect?")
	}
}

// TestEvalSchedule checks which steps log and evaluate: records every
// LogEvery steps and at the end, each with the telemetry; Eval every
// EvalEvery rounded up to a multiple of LogEvery, and at the end.
func TestEvalSchedule(t *testing.T) {
	m := mustNew(t, tinyConfigs()["mlp"])
	o := DefaultTrainOptions(LossNonSaturating)
	o.Steps, o.Batch, o.LogEvery, o.EvalEvery, o.Dir = 10, 4, 3, 4, t.TempDir()
	var evals, logged []int
	o.Eval = func(_ context.Context, step int) (map[string]any, error) {
		evals = append(evals, step)
		return map[string]any{"x": step}, nil
	}
	o.Listeners = []func(train.Record){func(r train.Record) {
		if _, ok := r["d_loss"]; !ok {
			t.Errorf("record without telemetry: %v", r)
		}
		logged = append(logged, r["step"].(int))
	}}
	if _, err := Train(context.Background(), m, MixtureSource{data.Ring8()}, o); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(evals, []int{6, 10}) || !slices.Equal(logged, []int{3, 6, 9, 10}) {
		t.Errorf("evaluated at %v, logged at %v; want [6 10] and [3 6 9 10]", evals, logged)
	}
}
