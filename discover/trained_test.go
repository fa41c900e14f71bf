package discover

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/train/induction"
	"github.com/mechinterp/workbench/transformer"
)

// trainInduction trains the toy induction model (2 attention-only layers,
// 4 heads each) until it predicts the repeats, and returns it with its
// previous-token heads (layer 0, previous-token score ≥ 0.3) and induction
// heads (layer 1, induction score ≥ 0.5). Trained with the defaults, the
// circuit is spread over several heads of each kind.
func trainInduction(t *testing.T) (m *transformer.Model, prev, ind []int) {
	t.Helper()
	cfg := induction.Default()
	cfg.StopAtAcc = 0.99
	res, err := induction.Train(context.Background(), cfg, t.TempDir(), induction.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.FinalEvalAcc < 0.95 {
		t.Fatalf("the induction model reached accuracy %.3f only", res.FinalEvalAcc)
	}
	if m, err = transformer.Load(res.Model); err != nil {
		t.Fatal(err)
	}
	t.Logf("previous-token scores %.2f, induction scores %.2f", res.PrevTokenScore, res.InductionScore)
	for h, s := range res.PrevTokenScore[0] {
		if s >= 0.3 {
			prev = append(prev, h)
		}
	}
	for h, s := range res.InductionScore[1] {
		if s >= 0.5 {
			ind = append(ind, h)
		}
	}
	if len(prev) == 0 || len(ind) == 0 {
		t.Fatalf("no circuit formed: previous-token heads %v, induction heads %v", prev, ind)
	}
	return m, prev, ind
}

// TestMethodsOnTrainedInduction: the trained model's induction circuit —
// previous-token heads into the induction heads' keys, the embedding into
// the previous-token heads' and the induction heads' values, the
// induction heads into the logits — must be found by EAP, EAP-IG and
// ACDC: each method's ROC AUC against those edges is held to a floor, and
// each induction head's edge into the logits must rank among its top
// edges (ACDC: be kept).
func TestMethodsOnTrainedInduction(t *testing.T) {
	ctx := context.Background()
	m, prev, ind := trainInduction(t)
	task := induction.Default().Task()
	clean, corrupted := data.NewBatch(32, task.SeqLen()), data.NewBatch(32, task.SeqLen())
	task.FillFixed(clean, rand.New(rand.NewPCG(1, 1)))
	task.FillFixed(corrupted, rand.New(rand.NewPCG(2, 2)))
	weights := make([][]float32, clean.N)
	for b := range weights {
		_, _, w := clean.Seq(b)
		weights[b] = w
	}
	loss := LossOn(clean.Rows(), weights)
	kl, err := NewKL(ctx, m, clean.Rows(), weights)
	if err != nil {
		t.Fatal(err)
	}
	head := func(l, h int) string { return Node{Kind: Head, Layer: l, Head: h}.String() }
	var truthNames, outputs []string
	for _, i := range ind {
		for _, p := range prev {
			truthNames = append(truthNames, head(0, p)+"->"+head(1, i)+".k")
		}
		truthNames = append(truthNames, "embed->"+head(1, i)+".v", head(1, i)+"->logits")
		outputs = append(outputs, head(1, i)+"->logits")
	}
	for _, p := range prev {
		truthNames = append(truthNames, "embed->"+head(0, p)+".v")
	}
	eLoss, err := New(ctx, m, clean.Rows(), corrupted.Rows(), loss, Corrupted)
	if err != nil {
		t.Fatal(err)
	}
	eKL, err := New(ctx, m, clean.Rows(), corrupted.Rows(), kl, Corrupted)
	if err != nil {
		t.Fatal(err)
	}
	g := eLoss.Graph()
	truth := make([]bool, len(g.Edges))
	for _, n := range truthNames {
		i, err := g.Index(n)
		if err != nil {
			t.Fatal(err)
		}
		truth[i] = true
	}
	eap, err := eLoss.EAP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ig, err := eLoss.EAPIG(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	res, err := eKL.ACDC(ctx, 0.05, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, meth := range []struct {
		name   string
		scores []float64
	}{{"eap", eap}, {"eap-ig", ig}, {"acdc", BoolScores(res.Keep)}} {
		auc := AUC(meth.scores, truth)
		f, err := eLoss.Faithfulness(ctx, meth.scores, 0.9, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("trained induction %-6s AUC %.3f  faithfulness area %.3f  edges for 90%%: %d of %d", meth.name, auc, f.Area, f.SizeAt, len(g.Edges))
		if auc < 0.75 {
			t.Errorf("%s: AUC %.3f against the induction circuit (%d edges)", meth.name, auc, len(truthNames))
		}
		top := g.Top(meth.scores, 2*len(truthNames))
		for _, n := range outputs {
			if i, _ := g.Index(n); !top[i] {
				t.Errorf("%s: %s is not among the top %d edges", meth.name, n, 2*len(truthNames))
			}
		}
	}
	kept := 0
	for _, k := range res.Keep {
		if k {
			kept++
		}
	}
	t.Logf("acdc (τ = 0.05 on KL) kept %d edges in %d evaluations", kept, res.Evaluations)
}
