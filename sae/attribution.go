package sae

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// Contribution is one active feature's share of a quantity: its
// activation and its attribution.
type Contribution struct {
	Feature     int     `json:"feature"`
	Act         float64 `json:"act"`
	Attribution float64 `json:"attribution"`
}

// LogitAttribution splits a logit's gradient-weighted activation at a
// dictionary's hook among its features. With g = ∂logit/∂a, the gradient
// of the logit with respect to the activation a the dictionary writes (its
// hook, a transcoder's output hook) at the logit's position,
//
//	g·a = Σ_j f_j (W_dec[j]·g) + g·b_dec + g·(a − â)
//
// Features, Bias and Error are the three terms; Total is g·a. Where the
// logit is linear in a (the last residual stream of a model without
// normalisation) removing feature j changes the logit by exactly its
// attribution.
type LogitAttribution struct {
	Pos      int            `json:"pos"`
	Token    int            `json:"token"`
	Logit    float64        `json:"logit"`    // the model's logit (no dictionary spliced in)
	Features []Contribution `json:"features"` // the active features, largest |attribution| first
	Bias     float64        `json:"bias"`
	Error    float64        `json:"error"` // the reconstruction error's term
	Total    float64        `json:"total"`
}

// AttributeLogit attributes the logit of token at position pos of seq
// (run as one sequence on m) to the dictionary's features at pos, through
// the decoder: act × (W_dec row · ∂logit/∂a), the gradient taken by the
// model's backward pass (so through every later layer; at the final
// residual it is direct logit attribution through ln_final with its scale
// held).
func (s *SAE) AttributeLogit(ctx context.Context, m *transformer.Model, seq []int, pos, token int) (*LogitAttribution, error) {
	c := s.Cfg
	if pos < 0 || pos >= len(seq) || token < 0 || token >= m.Cfg.DVocabOut {
		return nil, fmt.Errorf("sae: attribution of token %d at position %d: want a position in [0, %d) and a token in [0, %d)", token, pos, len(seq), m.Cfg.DVocabOut)
	}
	in, err := m.ParseHook(c.HookName)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	out := in
	if c.Transcoder {
		if out, err = m.ParseHook(c.HookNameOut); err != nil {
			return nil, fmt.Errorf("sae: %w", err)
		}
	}
	set, cache := hooks.Capture(hooks.Names(in, out))
	var logit float64
	V := m.Cfg.DVocabOut
	set.Add(hooks.UnembedOut(), func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		logit = float64(a.Data[pos*V+token])
		return nil
	})
	g := make([]float32, c.DIn)
	// The logit's gradient replaces the loss's at the logits, and is read
	// at the hook the dictionary writes.
	set.AddBackward(hooks.UnembedOut(), func(d *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		clear(d.Data)
		d.Data[pos*V+token] = 1
		return nil
	})
	set.AddBackward(out, func(d *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		if d.Dim(-1) == c.DIn {
			copy(g, d.Data[pos*c.DIn:(pos+1)*c.DIn])
		}
		return nil
	})
	if _, _, err := m.Gradients(ctx, [][]int{seq}, nil, set); err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	x, _ := cache.Get(in)
	a, _ := cache.Get(out)
	if x.Dim(-1) != c.DIn || a.Dim(-1) != c.DIn {
		return nil, fmt.Errorf("sae: %s is %d wide, the dictionary reads %d", in, x.Dim(-1), c.DIn)
	}
	xp := x.Data[pos*c.DIn : (pos+1)*c.DIn]
	ap := a.Data[pos*c.DIn : (pos+1)*c.DIn]
	f := s.Encode(xp, 1)
	xhat := make([]float32, c.DIn)
	s.Decode(xhat, f, 1)
	res := &LogitAttribution{Pos: pos, Token: token, Logit: logit, Features: []Contribution{}, Bias: tensor.Dot(s.BDec, g), Total: tensor.Dot(ap, g)}
	for i := range ap {
		res.Error += float64(g[i]) * (float64(ap[i]) - float64(xhat[i]))
	}
	for j, v := range f {
		if v != 0 {
			res.Features = append(res.Features, Contribution{Feature: j, Act: float64(v), Attribution: float64(v) * tensor.Dot(s.WDec[j*c.DIn:(j+1)*c.DIn], g)})
		}
	}
	sortContributions(res.Features)
	return res, nil
}

// sortContributions orders cs by decreasing |attribution|.
func sortContributions(cs []Contribution) {
	slices.SortStableFunc(cs, func(a, b Contribution) int { return cmp.Compare(math.Abs(b.Attribution), math.Abs(a.Attribution)) })
}

// FeatureEdge is the direct attribution from an upstream transcoder's
// feature to a downstream transcoder's feature at one position.
type FeatureEdge struct {
	Source      int     `json:"source"`
	Target      int     `json:"target"`
	SourceAct   float64 `json:"source_act"`
	Attribution float64 `json:"attribution"` // the source's share of the target's pre-activation
}

// TranscoderEdges returns the direct feature-to-feature attributions at
// position pos of seq, from transcoder up (writing the MLP output of a
// layer) to transcoder down (reading a later layer's MLP input): for each
// active source i and each target j that fires,
//
//	attr(i → j) = f_i · (L(W_dec_up[i]) · W_enc_down[:, j])
//
// where L is the downstream input's normalisation linearised at that
// position's cached scale (centred for LayerNorm, ÷ scale, ⊙ ln2.w), or
// the identity when down reads a residual hook — the residual path of an
// attribution graph with attention and normalisation scales frozen
// (Dunefsky et al. 2024; Ameisen et al. 2025). Edges are sorted by
// decreasing |attribution|.
func TranscoderEdges(ctx context.Context, m *transformer.Model, up, down *SAE, seq []int, pos int) ([]FeatureEdge, error) {
	if !up.Cfg.Transcoder || !down.Cfg.Transcoder {
		return nil, fmt.Errorf("sae: feature-to-feature attribution is between transcoders")
	}
	if pos < 0 || pos >= len(seq) {
		return nil, fmt.Errorf("sae: position %d outside the sequence's %d", pos, len(seq))
	}
	upIn, err := m.ParseHook(up.Cfg.HookName)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	upOut, err := m.ParseHook(up.Cfg.HookNameOut)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	downIn, err := m.ParseHook(down.Cfg.HookName)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	d := m.Cfg.DModel
	if up.Cfg.DIn != d || down.Cfg.DIn != d || upOut.Layer() >= downIn.Layer() {
		return nil, fmt.Errorf("sae: transcoders of width %d and %d, writing at layer %d and reading at layer %d: want d_model %d and an upstream layer before the downstream one",
			up.Cfg.DIn, down.Cfg.DIn, upOut.Layer(), downIn.Layer(), d)
	}
	l := downIn.Layer()
	var scaleName hooks.Name
	switch downIn.Kind() {
	case "ln2.hook_normalized":
		scaleName = hooks.LN2Scale(l)
	case "hook_resid_pre", "hook_resid_mid":
	default:
		return nil, fmt.Errorf("sae: the downstream transcoder reads %s: want ln2.hook_normalized or a residual hook", downIn)
	}
	names := []hooks.Name{upIn, downIn}
	if scaleName != "" {
		names = append(names, scaleName)
	}
	set, cache := hooks.Capture(hooks.Names(names...))
	if _, err := m.Run(ctx, [][]int{seq}, set); err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	xu, _ := cache.Get(upIn)
	xd, _ := cache.Get(downIn)
	fu := up.Encode(xu.Data[pos*d:(pos+1)*d], 1)
	fd := down.Encode(xd.Data[pos*d:(pos+1)*d], 1)
	// lin applies L to a source direction.
	lin := func(v []float32) []float64 {
		if scaleName == "" {
			return linearNorm(transformer.Config{NormalizationType: transformer.NormNone}, nil, v, 1)
		}
		sc, _ := cache.Get(scaleName)
		return linearNorm(m.Cfg, m.P.Blocks[l].LN2W, v, float64(sc.Data[pos]))
	}
	nd := down.Cfg.DSAE
	var edges []FeatureEdge
	for i, a := range fu {
		if a == 0 {
			continue
		}
		u := lin(up.WDec[i*d : (i+1)*d])
		for j, b := range fd {
			if b == 0 {
				continue
			}
			var dot float64
			for k, x := range u {
				dot += x * float64(down.WEnc[k*nd+j])
			}
			edges = append(edges, FeatureEdge{Source: i, Target: j, SourceAct: float64(a), Attribution: float64(a) * dot})
		}
	}
	slices.SortStableFunc(edges, func(a, b FeatureEdge) int { return cmp.Compare(math.Abs(b.Attribution), math.Abs(a.Attribution)) })
	return edges, nil
}

// QKEdge is a transcoder feature's direct share of one attention score,
// through the query or the key side.
type QKEdge struct {
	Feature     int     `json:"feature"`
	Side        string  `json:"side"` // "query" or "key"
	Act         float64 `json:"act"`
	Attribution float64 `json:"attribution"`
}

// QKAttribution attributes the attention score of head (layer, head)
// from query position q to key position k (k ≤ q) of seq to the active
// features of transcoder up (writing an earlier layer's MLP output) at
// both positions, along the residual stream: the score is q_q·k_k /
// attn_scale with q = ln1(x)·W_Q + b_Q and k likewise, so with ln1
// linearised at each position's cached scale (L as in TranscoderEdges)
//
//	query side: f_i[q] · (L_q(W_dec[i])·W_Q) · k_k / attn_scale
//	key side:   f_i[k] · q_q · (L_k(W_dec[i])·W_K) / attn_scale
//
// — the QK half of an attribution graph's attention edges (the OV half is
// TranscoderEdges through the value path). Models with rotary positions
// or grouped key-value heads are refused. Edges are sorted by decreasing
// |attribution|.
func QKAttribution(ctx context.Context, m *transformer.Model, up *SAE, seq []int, layer, head, q, k int) ([]QKEdge, error) {
	c := m.Cfg
	if !up.Cfg.Transcoder || up.Cfg.DIn != c.DModel {
		return nil, fmt.Errorf("sae: QK attribution is from a transcoder of width d_model %d", c.DModel)
	}
	if c.PositionalEmbeddingType == transformer.PosRotary || c.NKeyValueHeads != c.NHeads {
		return nil, fmt.Errorf("sae: QK attribution needs unrotated queries and keys and one key head per head")
	}
	upIn, err := m.ParseHook(up.Cfg.HookName)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	upOut, err := m.ParseHook(up.Cfg.HookNameOut)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	switch {
	case layer <= upOut.Layer() || layer >= c.NLayers || head < 0 || head >= c.NHeads:
		return nil, fmt.Errorf("sae: head L%dH%d: want a head of a layer after %d and before %d", layer, head, upOut.Layer(), c.NLayers)
	case k < 0 || k > q || q >= len(seq):
		return nil, fmt.Errorf("sae: query %d and key %d: want 0 ≤ key ≤ query < %d", q, k, len(seq))
	}
	names := []hooks.Name{upIn, hooks.Q(layer), hooks.K(layer)}
	if c.HasNorm() {
		names = append(names, hooks.LN1Scale(layer))
	}
	set, cache := hooks.Capture(hooks.Names(names...))
	if _, err := m.Run(ctx, [][]int{seq}, set); err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	d, dh := c.DModel, c.DHead
	x, _ := cache.Get(upIn)
	qa, _ := cache.Get(hooks.Q(layer)) // [1, pos, head, d_head]
	ka, _ := cache.Get(hooks.K(layer))
	qv := qa.Data[(q*c.NHeads+head)*dh:][:dh]
	kv := ka.Data[(k*c.NHeads+head)*dh:][:dh]
	hw := m.Head(layer, head)
	w := m.P.Blocks[layer].LN1W
	// through returns L_p(v)·W [d_head] for W [d_model, d_head].
	through := func(v []float32, p int, W *tensor.Tensor) []float64 {
		scale := 1.0
		if sc, ok := cache.Get(hooks.LN1Scale(layer)); ok {
			scale = float64(sc.Data[p])
		}
		u := linearNorm(c, w, v, scale)
		out := make([]float64, dh)
		for i, ui := range u {
			for j := range dh {
				out[j] += ui * float64(W.Data[i*dh+j])
			}
		}
		return out
	}
	dot := func(a []float64, b []float32) float64 {
		var s float64
		for i, v := range a {
			s += v * float64(b[i])
		}
		return s
	}
	var edges []QKEdge
	for _, side := range []struct {
		name string
		p    int
		W    *tensor.Tensor
		with []float32
	}{{"query", q, hw.WQ, kv}, {"key", k, hw.WK, qv}} {
		f := up.Encode(x.Data[side.p*d:(side.p+1)*d], 1)
		for i, a := range f {
			if a != 0 {
				v := dot(through(up.WDec[i*d:(i+1)*d], side.p, side.W), side.with) / c.AttnScale
				edges = append(edges, QKEdge{Feature: i, Side: side.name, Act: float64(a), Attribution: float64(a) * v})
			}
		}
	}
	slices.SortStableFunc(edges, func(a, b QKEdge) int { return cmp.Compare(math.Abs(b.Attribution), math.Abs(a.Attribution)) })
	return edges, nil
}
