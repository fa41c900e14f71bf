package lens

import (
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// decoder is the lenses' decoder: ln_final recomputed on its input, then the
// unembedding, on residuals [rows, d_model]; and the backward pass through
// both for the tuned lens. It mirrors the model's own final layers call for
// call, so decoding the final residual reproduces the model's logits bit for
// bit. It owns its buffers and belongs to one goroutine.
type decoder struct {
	m      *transformer.Model
	rows   int
	scale  []float32 // [rows]                 ln_final.hook_scale (norm models)
	normed []float32 // [rows, d_model]        ln_final.hook_normalized (norm models)
	logits []float32 // [rows, d_vocab_out]
	dh     []float32 // [rows, d_model]        backward scratch: ∂/∂normed
}

func newDecoder(m *transformer.Model, rows int) *decoder {
	c := m.Cfg
	dc := &decoder{m: m, rows: rows, logits: make([]float32, rows*c.DVocabOut)}
	if c.HasNorm() {
		dc.scale = make([]float32, rows)
		dc.normed = make([]float32, rows*c.DModel)
		dc.dh = make([]float32, rows*c.DModel)
	}
	return dc
}

// forward decodes x [rows, d_model] into dc.logits [rows, d_vocab_out] and
// returns them (a view the next call overwrites).
func (dc *decoder) forward(x []float32) []float32 {
	c, p := dc.m.Cfg, dc.m.P
	d, V, rows := c.DModel, c.DVocabOut, dc.rows
	h := x
	switch c.NormalizationType {
	case transformer.NormLN, transformer.NormLNPre:
		nn.LayerNormForward(dc.normed, dc.scale, x, p.LNFinalW, p.LNFinalB, rows, d, float32(c.Eps))
		h = dc.normed
	case transformer.NormRMS, transformer.NormRMSPre:
		nn.RMSNormForward(dc.normed, dc.scale, x, p.LNFinalW, rows, d, float32(c.Eps))
		h = dc.normed
	}
	if c.TiedEmbeddings {
		// logits = h·W_Eᵀ + b_U, as the model computes it.
		tensor.Gemm(false, true, rows, V, d, 1, h, d, p.WE, d, 0, dc.logits, V)
		for off := 0; off < len(dc.logits); off += V {
			tensor.Axpy(1, p.BU, dc.logits[off:off+V])
		}
	} else {
		nn.LinearForwardStrided(dc.logits, h, p.WU, p.BU, rows, d, V, V, d, V)
	}
	return dc.logits
}

// backward accumulates into dx [rows, d_model] the gradient with respect to
// the input x of the last forward, given dlogits [rows, d_vocab_out]. The
// model's parameters get no gradient. The gradient flows through
// ln_final's mean and scale, as the forward recomputed them on x.
func (dc *decoder) backward(dx, dlogits, x []float32) {
	c, p := dc.m.Cfg, dc.m.P
	d, V, rows := c.DModel, c.DVocabOut, dc.rows
	dh, beta := dc.dh, float32(0)
	if !c.HasNorm() {
		dh, beta = dx, 1 // the unembedding reads x directly: accumulate into dx
	}
	if c.TiedEmbeddings {
		tensor.Gemm(false, false, rows, d, V, 1, dlogits, V, p.WE, d, beta, dh, d) // dh = dlogits·W_E
	} else {
		tensor.Gemm(false, true, rows, d, V, 1, dlogits, V, p.WU, V, beta, dh, d) // dh = dlogits·W_Uᵀ
	}
	switch c.NormalizationType {
	case transformer.NormLN, transformer.NormLNPre:
		nn.LayerNormBackward(dx, nil, nil, dh, x, dc.scale, p.LNFinalW, rows, d)
	case transformer.NormRMS, transformer.NormRMSPre:
		nn.RMSNormBackward(dx, nil, dh, x, dc.scale, p.LNFinalW, rows, d)
	}
}
