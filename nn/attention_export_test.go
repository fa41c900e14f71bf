package nn

// Internals of the attention fast path, for the external tests in
// attention_fast_test.go.
var (
	AttnAVX512          = attnAVX512
	AttnFast            = attnFast
	AttnFastMaxPos      = attnFastMaxPos
	AttnPad16           = attnPad16
	AttnSoftmaxGo       = attnSoftmaxGo
	AttnSoftmaxRows     = attnSoftmaxRows
	AttnSoftmaxBackGo   = attnSoftmaxBackward
	AttnSoftmaxBackRows = attnSoftmaxBackRows
	Attn16PackT         = attn16PackT
)

// AttentionForwardGo and AttentionBackwardGo are the Gemm-based kernels
// with this build's row kernels; the Portable variants use the portable
// (scalar Go) softmax and softmax backward, as a bare size guard on the
// AVX-512 row kernels would.
func AttentionForwardGo(z, scores, pattern, q, k, v []float32, batch, pos, heads, dHead int) {
	attentionForwardGo(z, scores, pattern, q, k, v, batch, pos, heads, dHead, attnSoftmax)
}

func AttentionBackwardGo(dq, dk, dv, dz, pattern, q, k, v, scratch []float32, batch, pos, heads, dHead int) {
	attentionBackwardGo(dq, dk, dv, dz, pattern, q, k, v, scratch, batch, pos, heads, dHead, attnSoftmaxBackwardStore)
}

func AttentionForwardPortable(z, scores, pattern, q, k, v []float32, batch, pos, heads, dHead int) {
	attentionForwardGo(z, scores, pattern, q, k, v, batch, pos, heads, dHead, attnSoftmaxGo)
}

func AttentionBackwardPortable(dq, dk, dv, dz, pattern, q, k, v, scratch []float32, batch, pos, heads, dHead int) {
	attentionBackwardGo(dq, dk, dv, dz, pattern, q, k, v, scratch, batch, pos, heads, dHead, attnSoftmaxBackStoreGo)
}

// AttentionForward16 and AttentionBackward16 run the d_head = 16 fast path
// on every query row whatever pos (AVX-512 only; arguments unchecked).
func AttentionForward16(z, scores, pattern, q, k, v []float32, batch, pos, heads int) {
	attentionForward16(z, scores, pattern, q, k, v, batch, pos, heads, nil, nil)
}

func AttentionBackward16(dq, dk, dv, dz, pattern, q, k, v, scratch []float32, batch, pos, heads int) {
	attentionBackward16(dq, dk, dv, dz, pattern, q, k, v, scratch, batch, pos, heads, nil, nil, true)
}
