package transformer

import (
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// lookup finds the buffer in s that holds the activation called name.
func (m *Model) lookup(s *acts, name hooks.Name) (*tensor.Tensor, bool) {
	var t *tensor.Tensor
	switch name {
	case m.nm.embed:
		t = s.embed
	case m.nm.posEmbed:
		if m.Cfg.PositionalEmbeddingType != PosRotary {
			t = s.posEmbed
		}
	case m.nm.lnfScale:
		t = s.lnfScale
	case m.nm.lnfNorm:
		t = s.lnfOut
	case m.nm.unembed:
		t = s.logits
	}
	if l := name.Layer(); l >= 0 && l < m.Cfg.NLayers {
		b := &s.blocks[l]
		switch name.Kind() {
		case "hook_resid_pre":
			t = s.resid[l]
		case "hook_resid_post":
			t = s.resid[l+1]
		case "hook_resid_mid":
			if !m.Cfg.ParallelAttnMLP {
				t = b.residMid
			}
		case "ln1.hook_scale":
			t = b.ln1Scale
		case "ln1.hook_normalized":
			t = b.ln1Out
		case "ln2.hook_scale":
			t = b.ln2Scale
		case "ln2.hook_normalized":
			t = b.ln2Out
		case "attn.hook_q":
			t = b.q
		case "attn.hook_k":
			t = b.k
		case "attn.hook_v":
			t = b.v
		case "attn.hook_rot_q":
			t = b.rotQ
		case "attn.hook_rot_k":
			t = b.rotK
		case "mlp.hook_pre_linear":
			t = b.mlpPreLinear
		case "attn.hook_z":
			t = b.z
		case "attn.hook_attn_scores":
			t = b.scores
		case "attn.hook_pattern":
			t = b.pattern
		case "attn.hook_result":
			t = b.result
		case "hook_attn_out":
			t = b.attnOut
		case "mlp.hook_pre":
			t = b.mlpPre
		case "mlp.hook_post":
			t = b.mlpPost
		case "hook_mlp_out":
			t = b.mlpOut
		}
	}
	return t, t != nil
}
