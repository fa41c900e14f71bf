package induction

import (
	"context"
	"math"
	"time"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/transformer"
)

// evaluator measures the model on fixed held-out sets, reusing one workspace.
type evaluator struct {
	m           *transformer.Model
	eval, probe *data.Batch
	ws          *transformer.Workspace
}

func newEvaluator(m *transformer.Model, cfg Config) (*evaluator, error) {
	task := cfg.Task()
	ev, err := task.EvalSet(cfg.EvalSize, evalSeed)
	if err != nil {
		return nil, err
	}
	pr, err := task.ProbeSet(cfg.EvalSize, probeSeed)
	if err != nil {
		return nil, err
	}
	return &evaluator{m: m, eval: ev, probe: pr, ws: m.NewWorkspace(cfg.EvalSize, task.SeqLen())}, nil
}

// Telemetry is one evaluation of the circuit's formation.
type Telemetry struct {
	Loss, Acc, ProbeAcc  float64
	PrevToken, Induction [][]float64 // [layer][head]
	KCompMax, KBaseline  float64
}

func (t Telemetry) inductionMax() float64 {
	best := 0.0
	for l := 1; l < len(t.Induction); l++ {
		for _, v := range t.Induction[l] {
			best = math.Max(best, v)
		}
	}
	return best
}

func (t Telemetry) record() map[string]any {
	return map[string]any{
		"eval_loss": t.Loss, "eval_acc": t.Acc, "probe_acc": t.ProbeAcc,
		"prev_token_score": t.PrevToken, "induction_score": t.Induction,
		"induction_max":     t.inductionMax(),
		"k_composition_max": t.KCompMax, "k_composition_baseline": t.KBaseline,
	}
}

func (e *evaluator) run(ctx context.Context) (Telemetry, float64, error) {
	began := time.Now()
	var t Telemetry
	var err error
	if t.Loss, t.Acc, err = e.score(ctx, e.eval); err != nil {
		return t, 0, err
	}
	t.PrevToken, t.Induction = AttentionScores(e.ws, e.eval)
	if _, t.ProbeAcc, err = e.score(ctx, e.probe); err != nil {
		return t, 0, err
	}
	if t.KCompMax, t.KBaseline, err = KComposition(ctx, e.m); err != nil {
		return t, 0, err
	}
	return t, time.Since(began).Seconds(), nil
}

// score runs b through the model and returns the weighted loss and the
// accuracy on weighted positions.
func (e *evaluator) score(ctx context.Context, b *data.Batch) (loss, acc float64, err error) {
	if err := e.ws.Forward(ctx, b.Tokens, nil); err != nil {
		return 0, 0, err
	}
	loss = e.ws.Loss(b.Targets, b.Weights)
	return loss, Accuracy(e.ws.Logits().Data, b.Targets, b.Weights), nil
}

// Accuracy is the weighted fraction of rows of logits [rows, V] whose argmax
// is the target.
func Accuracy(logits []float32, targets []int32, weights []float32) float64 {
	V := len(logits) / len(targets)
	var hit, tot float64
	for r, w := range weights {
		if w == 0 {
			continue
		}
		row := logits[r*V : (r+1)*V]
		best := 0
		for j := range row {
			if row[j] > row[best] {
				best = j
			}
		}
		tot += float64(w)
		if int32(best) == targets[r] {
			hit += float64(w)
		}
	}
	if tot == 0 {
		return 0
	}
	return hit / tot
}

// AttentionScores reads the last forward pass's patterns in ws (run on b)
// and returns, per [layer][head], the previous-token score (mean attention
// from i to i−1 over i ≥ 1) and the induction score (mean attention from i
// to i−Ls+1 over the second repeated block, Ls = b.Repeat).
func AttentionScores(ws *transformer.Workspace, b *data.Batch) (prev, ind [][]float64) {
	T := b.SeqLen
	for l := range ws.Model().Cfg.NLayers {
		p := ws.Pattern(l) // [batch, head, T, T]
		H := p.Shape[1]
		prevL, indL := make([]float64, H), make([]float64, H)
		for h := 0; h < H; h++ {
			var sp, si float64
			var np, ni int
			for s := 0; s < b.N; s++ {
				pat := p.Data[(s*H+h)*T*T : (s*H+h+1)*T*T]
				for i := 1; i < T; i++ {
					sp += float64(pat[i*T+i-1])
					np++
				}
				if ls := b.Repeat[s]; ls > 1 {
					for i := T - ls; i < T; i++ {
						si += float64(pat[i*T+i-ls+1])
						ni++
					}
				}
			}
			prevL[h] = sp / float64(max(np, 1))
			indL[h] = si / float64(max(ni, 1))
		}
		prev, ind = append(prev, prevL), append(ind, indL)
	}
	return prev, ind
}

// KComposition returns the largest layer-0 → layer-1 K-composition score of
// m (0 for one-layer models) and the analytic random baseline 1/√d_model.
func KComposition(ctx context.Context, m *transformer.Model) (best, baseline float64, err error) {
	c := m.Cfg
	baseline = 1 / math.Sqrt(float64(c.DModel))
	if c.NLayers < 2 {
		return 0, baseline, nil
	}
	heads := m.Heads()[:2]
	comp, err := circuits.CompositionScores(ctx, heads)
	if err != nil {
		return 0, baseline, err
	}
	for h0 := range comp.K[0] {
		for _, v := range comp.K[0][h0][1] {
			best = math.Max(best, v)
		}
	}
	return best, baseline, nil
}
