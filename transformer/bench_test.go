package transformer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/workers"
)

// toyConfig is the benchmark model: 2 attention-only layers,
// d_model 64, 4 heads of 16, d_vocab 64, 40 positions.
func toyConfig() Config {
	return Config{NLayers: 2, DModel: 64, NHeads: 4, DHead: 16, DVocab: 64, NCtx: 40, AttnOnly: true}
}

func toyBatch(batch, pos, vocab int) []int32 {
	rng := rand.New(rand.NewPCG(1, 1))
	t := make([]int32, batch*pos)
	for i := range t {
		t[i] = int32(rng.IntN(vocab))
	}
	return t
}

func TestTrainStepAllocatesNothing(t *testing.T) {
	for name, cfg := range map[string]Config{"attn_only": toyConfig(), "ln_gelu": variants()["ln_gelu"]} {
		m, _ := New(cfg)
		pos := min(cfg.NCtx, 8)
		ws := m.NewWorkspace(4, pos)
		g := m.NewGrads()
		toks := toyBatch(4, pos, cfg.DVocab)
		targets, weights := NextTokenTargets(toks, 4, pos)
		ctx := context.Background()
		step := func() {
			if err := ws.Forward(ctx, toks, nil); err != nil {
				t.Fatal(err)
			}
			ws.Loss(targets, weights)
			clear(g.Data())
			if err := ws.Backward(g, nil); err != nil {
				t.Fatal(err)
			}
		}
		step() // lays out the gradient buffers
		if a := testing.AllocsPerRun(5, step); a != 0 {
			t.Errorf("%s: a forward+backward step allocates %v times", name, a)
		}
	}
}

func BenchmarkForward(b *testing.B) {
	const batch, pos = 64, 40
	m, _ := New(toyConfig())
	toks := toyBatch(batch, pos, 64)
	matchNothing := hooks.NewSet().Add("blocks.9.hook_nothing", func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor { return nil })
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		hs   func() *hooks.Set
	}{
		{"hooks=none", func() *hooks.Set { return nil }},
		{"hooks=match-nothing", func() *hooks.Set { return matchNothing }},
		{"hooks=full-cache", func() *hooks.Set { s, _ := hooks.Capture(nil); return s }},
	} {
		b.Run("d_model=64/pos=40/batch=64/"+bc.name, func(b *testing.B) {
			ws := m.NewWorkspace(batch, pos)
			b.ReportAllocs()
			for b.Loop() {
				if err := ws.Forward(ctx, toks, bc.hs()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch*pos)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

func BenchmarkForwardBackward(b *testing.B) {
	const batch, pos = 64, 40
	m, _ := New(toyConfig())
	toks := toyBatch(batch, pos, 64)
	targets, weights := NextTokenTargets(toks, batch, pos)
	ctx := context.Background()
	b.Run("d_model=64/pos=40/batch=64", func(b *testing.B) {
		ws := m.NewWorkspace(batch, pos)
		g := m.NewGrads()
		if err := ws.Forward(ctx, toks, nil); err != nil {
			b.Fatal(err)
		}
		ws.Loss(targets, weights)
		ws.Backward(g, nil) // lays out the gradient buffers once
		b.ReportAllocs()
		for b.Loop() {
			if err := ws.Forward(ctx, toks, nil); err != nil {
				b.Fatal(err)
			}
			ws.Loss(targets, weights)
			clear(g.Data())
			if err := ws.Backward(g, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(batch*pos)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
	})
}

// BenchmarkTrainStepLong is a training step (forward, loss, backward)
// through Parallel (2 shards, 2 workers) of the toy model at long
// contexts, 4,096 tokens a step.
func BenchmarkTrainStepLong(b *testing.B) {
	const tokens = 4096
	for _, pos := range []int{256, 512} {
		cfg := toyConfig()
		cfg.NCtx = pos
		batch := tokens / pos
		m, _ := New(cfg)
		toks := toyBatch(batch, pos, cfg.DVocab)
		targets, weights := NextTokenTargets(toks, batch, pos)
		b.Run(fmt.Sprintf("d_model=64/pos=%d/batch=%d", pos, batch), func(b *testing.B) {
			p, err := m.NewParallel(batch, pos, 2, 2)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			g := m.NewGrads()
			ctx := context.Background()
			if _, err := p.Step(ctx, toks, targets, weights, g); err != nil { // lays out the gradient buffers
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Step(ctx, toks, targets, weights, g); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch*pos)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// BenchmarkForwardLong is a hook-free forward pass of the toy model at
// 1,024 positions.
func BenchmarkForwardLong(b *testing.B) {
	const batch, pos = 4, 1024
	cfg := toyConfig()
	cfg.NCtx = pos
	m, _ := New(cfg)
	toks := toyBatch(batch, pos, cfg.DVocab)
	b.Run(fmt.Sprintf("d_model=64/pos=%d/batch=%d", pos, batch), func(b *testing.B) {
		benchForward(b, m.NewWorkspace(batch, pos), toks)
	})
}

// gpt2SmallConfig is GPT-2 small's shape (random weights): 12 layers,
// d_model 768, 12 heads of 64, d_mlp 3072, d_vocab 50,257, n_ctx 1,024,
// LayerNorm, gelu_new.
func gpt2SmallConfig() Config {
	return Config{NLayers: 12, DModel: 768, NHeads: 12, DHead: 64, DMLP: 3072, DVocab: 50257, NCtx: 1024,
		NormalizationType: NormLN, ActFn: ActGELUNew, Seed: 1}
}

// BenchmarkForwardGPT2Small is a hook-free inference forward pass of a
// GPT-2-small-shaped model on 8 sequences of 128 tokens, the shape of
// ../shared/bench/torch_gpt2_forward.py (issue 13's speed bar): an inference
// workspace on a pool of one worker per core ("workers=2"), and the
// single-threaded per-block workspace for comparison ("workers=1").
func BenchmarkForwardGPT2Small(b *testing.B) {
	const batch, pos = 8, 128
	cfg := gpt2SmallConfig()
	m, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	toks := toyBatch(batch, pos, cfg.DVocab)
	for _, nw := range []int{runtime.GOMAXPROCS(0), 1} {
		pool := workers.New(nw)
		var ws *Workspace // one per sub-benchmark, however often its function runs: peak RSS counts one
		b.Run(fmt.Sprintf("d_model=768/layers=12/batch=%d/pos=%d/workers=%d", batch, pos, nw), func(b *testing.B) {
			if ws == nil {
				ws = m.NewWorkspaceWith(batch, pos, WorkspaceOptions{Runner: pool, Inference: nw > 1})
			}
			benchForward(b, ws, toks)
		})
		pool.Close()
	}
}

// benchForward times ws.Forward on toks, without hooks, after one pass
// that first-touches the activations, and reports tok/s and, where the
// process's CPU time can be read, tok/cpu-s: tokens per CPU-second of the
// whole process, which other processes sharing the cores do not change
// (tok/s ≈ tok/cpu-s × cores when the cores are free and all busy).
func benchForward(b *testing.B, ws *Workspace, toks []int32) {
	ctx := context.Background()
	if err := ws.Forward(ctx, toks, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0, cpuOK := testenv.ProcessCPUSeconds()
	for b.Loop() {
		if err := ws.Forward(ctx, toks, nil); err != nil {
			b.Fatal(err)
		}
	}
	tokens := float64(len(toks)) * float64(b.N)
	b.ReportMetric(tokens/b.Elapsed().Seconds(), "tok/s")
	if cpu1, ok := testenv.ProcessCPUSeconds(); cpuOK && ok && cpu1 > cpu0 {
		b.ReportMetric(tokens/(cpu1-cpu0), "tok/cpu-s")
	}
}
