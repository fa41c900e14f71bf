package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// layerSteps returns, for a toy shape (rows = batch·pos, d = d_model, dMLP,
// vocab v), one forward+backward closure per layer of this package over
// buffers allocated here, once.
func layerSteps(rng *rand.Rand, batch, pos, d, dMLP, v int) map[string]func() {
	rows := batch * pos
	x, dx := randNormal(rng, rows*d), randNormal(rng, rows*d)
	y, dy := randNormal(rng, rows*d), randNormal(rng, rows*d)
	h, dh := randNormal(rng, rows*dMLP), randNormal(rng, rows*dMLP)
	a, da := randNormal(rng, rows*dMLP), randNormal(rng, rows*dMLP) // activation output and its gradient
	w, dw := randNormal(rng, d*dMLP), make([]float32, d*dMLP)
	b, db := randNormal(rng, dMLP), make([]float32, dMLP)
	g, dg := randNormal(rng, d), make([]float32, d)
	scale := make([]float32, rows)
	table, dtable := randNormal(rng, v*d), make([]float32, v*d)
	tokens := make([]int32, rows)
	for i := range tokens {
		tokens[i] = int32(rng.IntN(v))
	}
	weights := make([]float32, rows)
	for i := range weights {
		weights[i] = float32(i % 2)
	}
	logits, probs, dlogits := randNormal(rng, rows*v), make([]float32, rows*v), make([]float32, rows*v)
	logitsQ, probsQ, dlogitsQ := randNormal(rng, rows*v), make([]float32, rows*v), make([]float32, rows*v)
	return map[string]func(){
		"Linear": func() {
			LinearForward(h, x, w, b, rows, d, dMLP)
			LinearBackward(dx, dw, db, dh, x, w, rows, d, dMLP)
		},
		"LinearStrided": func() {
			LinearForwardStrided(h[1:], x, w, b, rows, d, 3, dMLP, d, dMLP)
			LinearBackwardStrided(dx, dw, db, dh[1:], x, w, rows, d, 3, dMLP, d, dMLP)
		},
		"Embed": func() {
			EmbedForward(y, tokens, table, d)
			EmbedBackward(dtable, dy, tokens, d)
			PosEmbedForward(y, table, batch, pos, d)
			PosEmbedBackward(dtable, dy, batch, pos, d)
		},
		"LayerNorm": func() {
			LayerNormForward(y, scale, x, g, b[:d], rows, d, normEps)
			LayerNormBackward(dx, dg, db[:d], dy, x, scale, g, rows, d)
		},
		"RMSNorm": func() {
			RMSNormForward(y, scale, x, nil, rows, d, normEps)
			RMSNormBackward(dx, nil, dy, x, scale, nil, rows, d)
		},
		"GELU": func() {
			GELUForward(a, h)
			GELUBackward(dh, da, h)
		},
		"GELUTanh": func() {
			GELUTanhForward(a, h)
			GELUTanhBackward(dh, da, h)
		},
		"ReLU": func() {
			ReLUForward(a, h)
			ReLUBackward(dh, da, h)
		},
		"CrossEntropy": func() {
			CrossEntropyForward(probs, logits, tokens, weights, rows, v)
			CrossEntropyBackward(dlogits, probs, tokens, weights, rows, v, 1)
			CrossEntropyPerRow(scale, logits, tokens, rows, v)
		},
		"KL": func() {
			KLForward(probs, probsQ, logits, logitsQ, nil, rows, v)
			KLBackward(dlogits, dlogitsQ, probs, probsQ, logits, logitsQ, nil, rows, v, 1)
		},
	}
}

// TestLayersAllocateNothing proves the nn conventions: a forward+backward of
// every layer on buffers laid out beforehand allocates zero bytes.
func TestLayersAllocateNothing(t *testing.T) {
	const seed = 1
	rng := rand.New(rand.NewPCG(seed, seed))
	for name, step := range layerSteps(rng, 2, 5, 8, 12, 11) {
		if allocs := testing.AllocsPerRun(5, step); allocs != 0 {
			t.Errorf("%s forward+backward: %v allocations per run, want 0", name, allocs)
		}
	}
}

// BenchmarkLayers times forward+backward of the hot layers at the toy
// models' training shape: batch 64 × pos 40 = 2,560 rows, d_model 64; the
// Linear and activations also at d_mlp = 256 (the MLP's W_in), the losses at
// d_vocab = 64.
func BenchmarkLayers(b *testing.B) {
	const batch, pos, d, v = 64, 40, 64, 64
	benches := []struct {
		layer string
		dMLP  int // the output width of Linear and the activations' width
	}{
		{"Linear", d},
		{"Linear", 256},
		{"LayerNorm", 0},
		{"RMSNorm", 0},
		{"GELU", 256},
		{"GELUTanh", 256},
		{"ReLU", 256},
		{"Embed", 0},
		{"CrossEntropy", 0},
		{"KL", 0},
	}
	for _, bb := range benches {
		name := fmt.Sprintf("%s/batch=%d/pos=%d/d_model=%d", bb.layer, batch, pos, d)
		if bb.dMLP > 0 {
			name += fmt.Sprintf("/d_out=%d", bb.dMLP)
		}
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			step := layerSteps(rng, batch, pos, d, max(bb.dMLP, d), v)[bb.layer]
			b.ReportAllocs()
			for b.Loop() {
				step()
			}
			b.ReportMetric(float64(batch*pos)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
