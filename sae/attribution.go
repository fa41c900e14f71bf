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
