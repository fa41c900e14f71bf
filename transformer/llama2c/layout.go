package llama2c

// tensor is one of llama2.c's weight arrays in a file: count matrices (one
// per layer, or 1) of [rows, cols] float32, or int8 with float32 scales.
type tensor struct {
	name       string
	count      int
	rows, cols int
	quantized  bool  // version 2: int8 values at offset, scales at scaleOffset
	offset     int64 // first byte of the values
	scales     int64 // first byte of the scales (quantized only)
}

// size returns the number of values of one matrix.
func (t tensor) size() int64 { return int64(t.rows) * int64(t.cols) }

// numel returns the number of values of all count matrices.
func (t tensor) numel() int64 { return int64(t.count) * t.size() }

// tensors returns the file's arrays in file order, with their offsets.
// Call it on a checked header (the sizes then fit in int64 by far).
func (h header) tensors() []tensor {
	L, d, kv := h.layers, h.dim, h.kvHeads*h.headSize()
	norms := []tensor{{name: "rms_att", count: L, rows: 1, cols: d}, {name: "rms_ffn", count: L, rows: 1, cols: d}, {name: "rms_final", count: 1, rows: 1, cols: d}}
	weights := []tensor{
		{name: "token_embedding", count: 1, rows: h.vocab, cols: d},
		{name: "wq", count: L, rows: d, cols: d},
		{name: "wk", count: L, rows: kv, cols: d},
		{name: "wv", count: L, rows: kv, cols: d},
		{name: "wo", count: L, rows: d, cols: d},
		{name: "w1", count: L, rows: h.hidden, cols: d},
		{name: "w2", count: L, rows: d, cols: h.hidden},
		{name: "w3", count: L, rows: h.hidden, cols: d},
	}
	if !h.tied {
		weights = append(weights, tensor{name: "wcls", count: 1, rows: h.vocab, cols: d})
	}
	var ts []tensor
	switch h.version {
	case 0:
		// token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3,
		// rms_final, the rotary tables, wcls.
		w := weights
		ts = append(ts, w[0], norms[0], w[1], w[2], w[3], w[4], norms[1], w[5], w[6], w[7], norms[2],
			tensor{name: "freq_cis_real", count: 1, rows: h.seqLn, cols: h.headSize() / 2},
			tensor{name: "freq_cis_imag", count: 1, rows: h.seqLn, cols: h.headSize() / 2})
		ts = append(ts, w[8:]...)
	case 1:
		ts = append(norms, weights...)
	case 2:
		for i := range weights {
			weights[i].quantized = true
		}
		ts = append(norms, weights...)
	}
	off := h.dataOffset
	for i := range ts {
		ts[i].offset = off
		if ts[i].quantized {
			off += ts[i].numel()
		} else {
			off += 4 * ts[i].numel()
		}
	}
	for i := range ts {
		if ts[i].quantized {
			ts[i].scales = off
			off += 4 * (ts[i].numel() / int64(h.groupSize))
		}
	}
	return ts
}

// fileSize returns the length in bytes that the header implies.
func (h header) fileSize() int64 {
	ts := h.tensors()
	last := ts[len(ts)-1]
	if last.quantized {
		return last.scales + 4*(last.numel()/int64(h.groupSize))
	}
	return last.offset + 4*last.numel()
}
