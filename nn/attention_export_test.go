package nn

// Internals of the attention fast path, for the external tests in
// attention_fast_test.go.
var (
	AttnAVX512          = attnAVX512
	AttnFast            = attnFast
	AttnPad16           = attnPad16
	AttentionForwardGo  = attentionForwardGo
	AttentionBackwardGo = attentionBackwardGo
	AttnSoftmaxGo       = attnSoftmaxGo
	AttnSoftmaxRows     = attnSoftmaxRows
	AttnSoftmaxBackGo   = attnSoftmaxBackward
	AttnSoftmaxBackRows = attnSoftmaxBackRows
	Attn16PackT         = attn16PackT
)
