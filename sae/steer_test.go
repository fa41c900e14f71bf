package sae

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// TestSteerUnembedDirection steers the last residual stream of a model
// without normalisation along token t's unembedding column u = W_U[:, t]:
// every logit s then moves by exactly α·(u · W_U[:, s]), computed here
// from the weights by hand; t's by α‖u‖², the largest rise.
func TestSteerUnembedDirection(t *testing.T) {
	ctx := context.Background()
	c := transformer.Config{NLayers: 2, DModel: 16, NHeads: 2, DHead: 8, DMLP: 32, DVocab: 20, NCtx: 12,
		NormalizationType: transformer.NormNone, ActFn: transformer.ActGELU}
	m := transformertest.Random(t, c, 7)
	const tok, alpha = 5, 3.0
	V := c.DVocab
	u := make([]float32, c.DModel)
	for i := range u {
		u[i] = m.P.WU[i*V+tok]
	}
	st := Steering{Hook: "blocks.1.hook_resid_post", Direction: u, Alpha: alpha}
	prompt := transformertest.Tokens(rand.New(rand.NewPCG(3, 3)), 1, 6, V)[0]
	res, err := Steer(ctx, m, prompt, st, SteerOptions{TopK: V, MaxNew: 4})
	if err != nil {
		t.Fatal(err)
	}
	const tol = 1e-4 // float32 logits
	want := func(s int) float64 {
		var d float64
		for i := range u {
			d += float64(u[i]) * float64(m.P.WU[i*V+s])
		}
		return alpha * d
	}
	for _, e := range append(res.Raised, res.Lowered...) {
		if math.Abs(e.Effect-want(e.Token)) > tol {
			t.Errorf("token %d: logit moved by %g, want α·u·W_U = %g", e.Token, e.Effect, want(e.Token))
		}
	}
	if res.Raised[0].Token != tok {
		t.Errorf("the largest rise is token %d, want %d (%v)", res.Raised[0].Token, tok, res.Raised[:3])
	}
	clean := map[int]float64{}
	for _, p := range res.Clean {
		clean[p.Token] = p.Logit
	}
	for _, p := range res.Steered {
		if math.Abs(p.Logit-clean[p.Token]-want(p.Token)) > tol {
			t.Errorf("token %d: steered logit %g, clean %g, want a change of %g", p.Token, p.Logit, clean[p.Token], want(p.Token))
		}
	}
	if res.KL <= 0 || len(res.CleanNew) != 4 || len(res.SteeredNew) != 4 {
		t.Errorf("KL %g, continuations %v %v", res.KL, res.CleanNew, res.SteeredNew)
	}
	// A large α makes every steered greedy token the steered token.
	big, err := Steer(ctx, m, prompt, Steering{Hook: st.Hook, Direction: u, Alpha: 1000}, SteerOptions{TopK: 1, MaxNew: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range big.SteeredNew {
		if g != tok {
			t.Errorf("α = 1000: generated %v, want all %d", big.SteeredNew, tok)
			break
		}
	}
	// The loss moves; α = 0 leaves it bit-identical.
	toks := transformertest.Tokens(rand.New(rand.NewPCG(4, 4)), 3, 12, V)
	cl, sl, err := SteerLoss(ctx, m, toks, Steering{Hook: st.Hook, Direction: u, Alpha: 0})
	if err != nil || cl != sl {
		t.Errorf("α = 0: loss %g → %g (%v)", cl, sl, err)
	}
	for _, bad := range []Steering{
		{Hook: "blocks.9.hook_resid_post", Direction: u, Alpha: 1},
		{Hook: "blocks.0.attn.hook_pattern", Direction: u, Alpha: 1},
		{Hook: st.Hook, Direction: u[:3], Alpha: 1},
		{Hook: st.Hook, Direction: u, Alpha: math.NaN()},
	} {
		if _, err := Steer(ctx, m, prompt, bad, SteerOptions{TopK: 1}); err == nil {
			t.Errorf("steering %s with %d values, α %g accepted", bad.Hook, len(bad.Direction), bad.Alpha)
		}
	}
}
