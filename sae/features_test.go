package sae

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// trainedSAE trains a small TopK SAE on m's hook for a few hundred steps.
func trainedSAE(t *testing.T, m *transformer.Model, hook string, steps int) *SAE {
	t.Helper()
	ctx := context.Background()
	d := m.Cfg.DModel
	s, err := New(Config{DIn: d, DSAE: 48, Activation: TopK, K: 4, HookName: hook}, 2)
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(m, hook, "", randomBatches(m.Cfg.DVocab, 16, m.Cfg.NCtx, 3), 2048, 5)
	if err != nil {
		t.Fatal(err)
	}
	const B = 128
	tr, err := NewTrainer(s, TrainConfig{Batch: B, LR: 2e-3})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, B*d)
	for range steps {
		if err := src.Next(ctx, x, nil, B); err != nil {
			t.Fatal(err)
		}
		tr.Step(x, nil)
	}
	return s
}

// TestDashboards checks the dashboards of a trained SAE against
// quantities recomputed independently from the captured activations: each
// feature's density, its strongest activation and the activations shown
// around it, the histogram's total, the decoder cosines, and the logit
// effect against the logit change of adding the decoder row to the final
// residual of a model without normalisation (where it is exact).
func TestDashboards(t *testing.T) {
	ctx := context.Background()
	c := transformer.Config{NLayers: 2, DModel: 16, NHeads: 2, DHead: 8, DMLP: 32, DVocab: 20, NCtx: 12,
		NormalizationType: transformer.NormNone, ActFn: transformer.ActGELU}
	m := transformertest.Random(t, c, 4)
	hook := "blocks.1.hook_resid_post"
	s := trainedSAE(t, m, hook, 200)
	tokens := transformertest.Tokens(rand.New(rand.NewPCG(9, 9)), 10, 12, c.DVocab)
	// Independent: capture the hook, encode every row.
	set, cache := hooks.Capture(hooks.Names(hooks.Name(hook)))
	if _, err := m.Run(ctx, tokens, set); err != nil {
		t.Fatal(err)
	}
	x, _ := cache.Get(hooks.Name(hook))
	rows := len(tokens) * 12
	f := s.Encode(x.Data, rows)
	n := s.Cfg.DSAE
	// The dashboards of a dead feature and of the first three that fire.
	feats := []int{}
	for j := range n {
		for r := range rows {
			if f[r*n+j] != 0 && len(feats) < 3 {
				feats = append(feats, j)
				break
			}
		}
	}
	for j := range n {
		if !slices.Contains(feats, j) {
			feats = append(feats, j)
			break
		}
	}
	db, err := s.Dashboards(ctx, m, tokens, DashboardOptions{Features: feats, Contexts: 3, Window: 2, Bins: 8, Logits: 4, Similar: 3,
		TokenText: func(id int) string { return "t" + strconv.Itoa(id) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(db.Summaries) != n || len(db.Features) != len(feats) || db.Positions != rows {
		t.Fatalf("%d summaries, %d features, %d positions", len(db.Summaries), len(db.Features), db.Positions)
	}
	checked := 0
	for fi, j := range feats {
		ft := db.Features[fi]
		count, best, bestRow := 0, 0.0, -1
		for r := range rows {
			if v := float64(f[r*n+j]); v != 0 {
				count++
				if v > best {
					best, bestRow = v, r
				}
			}
		}
		if got, want := ft.Density, float64(count)/float64(rows); got != want {
			t.Errorf("feature %d density %g, want %g", j, got, want)
		}
		if count == 0 {
			continue
		}
		checked++
		cx := ft.Contexts[0]
		if cx.Act != best || cx.Seq*12+cx.Pos != bestRow {
			t.Errorf("feature %d top context (%d, %d) act %g, want row %d act %g", j, cx.Seq, cx.Pos, cx.Act, bestRow, best)
		}
		for i, tok := range cx.Tokens {
			p := cx.Start + i
			if tok != tokens[cx.Seq][p] || cx.Acts[i] != float64(f[(cx.Seq*12+p)*n+j]) || cx.Text[i] != "t"+strconv.Itoa(tok) {
				t.Errorf("feature %d context token %d: %d act %g text %q", j, p, tok, cx.Acts[i], cx.Text[i])
			}
		}
		if cx.Pos-cx.Start > 2 || len(cx.Tokens) > 5 {
			t.Errorf("window 2: context starts at %d for peak %d with %d tokens", cx.Start, cx.Pos, len(cx.Tokens))
		}
		total := 0
		for _, k := range ft.Histogram.Counts {
			total += k
		}
		if total != count || ft.Histogram.Edges[8] != best {
			t.Errorf("feature %d histogram holds %d of %d, last edge %g (max %g)", j, total, count, ft.Histogram.Edges[8], best)
		}
		// Similar features: decreasing cosines, recomputed.
		for i, sim := range ft.Similar {
			a, b := s.WDec[j*16:(j+1)*16], s.WDec[sim.Feature*16:(sim.Feature+1)*16]
			want := tensor.Dot(a, b) / math.Sqrt(tensor.Dot(a, a)*tensor.Dot(b, b))
			if math.Abs(sim.Cosine-want) > 1e-9 || sim.Feature == j || (i > 0 && sim.Cosine > ft.Similar[i-1].Cosine) {
				t.Errorf("feature %d similar %d: cosine %g, want %g", j, sim.Feature, sim.Cosine, want)
			}
		}
		// Logit effects: add the decoder row to the last residual and
		// read the logits' change (no normalisation: exact up to rounding).
		row := s.WDec[j*16 : (j+1)*16]
		last := hooks.ResidPost(c.NLayers - 1)
		add := hooks.NewSet().Add(last, func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
			for r := range a.Size() / 16 {
				tensor.Axpy(1, row, a.Data[r*16:(r+1)*16])
			}
			return nil
		})
		clean, _ := m.Run(ctx, tokens[:1], nil)
		moved, _ := m.Run(ctx, tokens[:1], add)
		const tol = 1e-4 // float32 logits of magnitude ~1
		for _, e := range append(ft.Promoted, ft.Suppressed...) {
			got := float64(moved.Data[e.Token] - clean.Data[e.Token])
			if math.Abs(got-e.Effect) > tol {
				t.Errorf("feature %d token %d: effect %g, logit change %g", j, e.Token, e.Effect, got)
			}
		}
		if ft.Promoted[0].Effect < ft.Suppressed[0].Effect || ft.Promoted[0].Text == "" {
			t.Errorf("feature %d: promoted %v below suppressed %v", j, ft.Promoted[0], ft.Suppressed[0])
		}
	}
	if checked < 3 {
		t.Errorf("only %d of features %v fired", checked, feats)
	}
	if _, err := s.Dashboards(ctx, m, tokens, DashboardOptions{Features: []int{n}, Contexts: 1, Bins: 1, Logits: 1, Similar: 1}); err == nil {
		t.Error("feature d_sae accepted")
	}
}

// TestCurve sweeps k on a model's residual stream: L0 stays at most k and
// grows with it, and more active features reconstruct better (FVU falls);
// at k 16 the loss is nearly all recovered. (On this random model zeroing
// the stream costs little, so CE recovered is too noisy to rank the
// smaller k.)
func TestCurve(t *testing.T) {
	ctx := context.Background()
	m := smallModel(t)
	held := transformertest.Tokens(rand.New(rand.NewPCG(8, 8)), 8, 12, m.Cfg.DVocab)
	pts, err := Curve(ctx, m, func() Batches { return randomBatches(m.Cfg.DVocab, 16, 12, 3) }, held, CurveOptions{
		Base:  Config{DIn: 16, DSAE: 64, Activation: TopK, HookName: "blocks.1.hook_resid_mid"},
		Train: TrainConfig{Batch: 128, LR: 2e-3}, Steps: 300, Ks: []int{1, 4, 16}, Rows: 2048, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pts {
		t.Logf("k %d: L0 %.2f FVU %.3f CE recovered %.3f dead %.2f", p.K, p.L0, p.FVU, p.CERecovered, p.DeadFraction)
		if p.L0 > float64(p.K) {
			t.Errorf("k %d: L0 %g", p.K, p.L0)
		}
		if i > 0 && (p.L0 <= pts[i-1].L0 || p.FVU >= pts[i-1].FVU) {
			t.Errorf("k %d after k %d: L0 %g, FVU %g, CE recovered %g against %+v", p.K, pts[i-1].K, p.L0, p.FVU, p.CERecovered, pts[i-1])
		}
	}
	if last := pts[len(pts)-1]; last.CERecovered < 0.95 {
		t.Errorf("k 16: CE recovered %g", last.CERecovered)
	}
	if _, err := Curve(ctx, m, nil, held, CurveOptions{Base: Config{Activation: ReLU}, Ks: []int{2}, Steps: 1}); err == nil {
		t.Error("a k sweep of a relu dictionary accepted")
	}
}
