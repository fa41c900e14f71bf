package discover

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/patching"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// BenchmarkEAPGPT2Small scores every edge of a GPT-2-small-shaped model
// (12 layers × 12 heads, d_model 768, d_mlp 3072, vocabulary 50,257;
// random weights) on 16 × 32 tokens: the bar is under 5 s. It
// reports seconds per scoring, edges per second and, where the process's
// CPU time can be read, CPU-seconds per scoring (which other processes on
// a shared machine change less than seconds); setting up (the clean and
// corrupted runs) is not timed, the first scoring's workspace is.
func BenchmarkEAPGPT2Small(b *testing.B) {
	c := transformer.Config{NLayers: 12, DModel: 768, NHeads: 12, DHead: 64, DMLP: 3072, DVocab: 50257, NCtx: 1024,
		NormalizationType: transformer.NormLN, ActFn: transformer.ActGELUNew}
	m, err := transformer.New(c)
	if err != nil {
		b.Fatal(err)
	}
	transformertest.Randomize(m, 1)
	for i := range m.P.Data() {
		m.P.Data()[i] *= 0.1 // GPT-2's weights are about 0.02–0.1
	}
	clean, corrupted := pair(1, 16, 32, c.DVocab)
	rng := rand.New(rand.NewPCG(3, 3))
	metric := patching.LogitDiff{Answer: []int{rng.IntN(c.DVocab)}, Wrong: []int{rng.IntN(c.DVocab)}, Pos: patching.Last}
	ctx := context.Background()
	e, err := New(ctx, m, clean, corrupted, metric, Corrupted)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0, cpuOK := testenv.ProcessCPUSeconds()
	for b.Loop() {
		if _, err := e.EAP(ctx); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec, "s/op-eap")
	b.ReportMetric(float64(len(e.Graph().Edges))/sec, "edges/s")
	if cpu1, ok := testenv.ProcessCPUSeconds(); cpuOK && ok && cpu1 > cpu0 {
		b.ReportMetric((cpu1-cpu0)/float64(b.N), "cpu-s/op-eap")
	}
}

// BenchmarkACDCInduction runs ACDC (τ = 0.05 on KL) on the dashboard's
// demo model, the trained 2-layer induction model (web/demo), over 32
// repeated sequences: the bar is under 30 s.
func BenchmarkACDCInduction(b *testing.B) {
	m, err := transformer.Load("../web/demo/model.safetensors")
	if err != nil {
		b.Fatal(err)
	}
	task := data.Induction{Vocab: m.Cfg.DVocab, L: 20, MinRepeat: 10, Distinct: true}
	clean, corrupted := data.NewBatch(32, task.SeqLen()), data.NewBatch(32, task.SeqLen())
	task.FillFixed(clean, rand.New(rand.NewPCG(1, 1)))
	task.FillFixed(corrupted, rand.New(rand.NewPCG(2, 2)))
	w := make([][]float32, clean.N)
	for i := range w {
		_, _, w[i] = clean.Seq(i)
	}
	ctx := context.Background()
	kl, err := NewKL(ctx, m, clean.Rows(), w)
	if err != nil {
		b.Fatal(err)
	}
	evals := 0
	for b.Loop() {
		e, err := New(ctx, m, clean.Rows(), corrupted.Rows(), kl, Corrupted)
		if err != nil {
			b.Fatal(err)
		}
		res, err := e.ACDC(ctx, 0.05, nil)
		if err != nil {
			b.Fatal(err)
		}
		evals = res.Evaluations
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/op-acdc")
	b.ReportMetric(float64(evals), "evaluations")
}
