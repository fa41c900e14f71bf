package web

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/lens"
)

// lensAPI is /api/models/{name}/lens: the logit lens and a tuned lens.
type lensAPI struct{ log *slog.Logger }

// Routes returns the /lens router.
func (a *lensAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Post("/", handle(a.log, a.lens))
	r.Post("/dla", handle(a.log, a.dla))
	return r
}

// Tuned-lens training on a model's own task, as `workbench lens train`
// does: lens.DefaultSteps SGD steps of tunedBatch sequences, seed 1.
const (
	tunedBatch = 16
	tunedSeed  = 1
	evalSeqs   = 64 // held-out sequences for the per-point curves
	evalSeed   = 7
)

// lensRequest is POST /lens: a sequence, the number of top tokens kept per
// position, and whether to train (once per model) and show the tuned lens.
type lensRequest struct {
	tokensInput
	K     int   `json:"k"`
	Tuned *bool `json:"tuned"`
}

// lensStats is one lens's report: per point (embed, then each layer's
// residual) its loss, accuracy, KL to the final distribution and entropy,
// and Top[point][pos] the most probable tokens.
type lensStats struct {
	Loss      []float64      `json:"loss"`
	Accuracy  []float64      `json:"accuracy"`
	KLToFinal []float64      `json:"kl_to_final"`
	Entropy   []float64      `json:"entropy"`
	Top       [][][]topToken `json:"top,omitempty"`
	// Positions holds the loss and accuracy by position and over the
	// predictable positions, unless the logits were too large to keep.
	Positions *positionStats `json:"positions,omitempty"`
}

// topToken is lens.TokenProb with, for a model with a tokenizer, the
// token's text.
type topToken struct {
	Token int     `json:"token"`
	Prob  float64 `json:"prob"`
	Text  string  `json:"text,omitempty"`
}

// lensResponse holds both lenses on the request's sequence and, as Eval,
// on evalSeqs held-out sequences of the model's task (for the curves).
type lensResponse struct {
	Tokens []int    `json:"tokens"`
	Pieces []string `json:"pieces,omitempty"` // the tokens' text (models with a tokenizer)
	Labels []string `json:"labels"`
	// Predictable lists the positions of the sequence whose next token is
	// predictable by induction (data.RepeatedPositions).
	Predictable []int      `json:"predictable"`
	Logit       lensStats  `json:"logit"`
	Tuned       *lensStats `json:"tuned,omitempty"`
	Eval        struct {
		Sequences int `json:"sequences"`
		// Predictable says which positions of the held-out sequences
		// count as predictable.
		Predictable string     `json:"predictable"`
		Logit       lensStats  `json:"logit"`
		Tuned       *lensStats `json:"tuned,omitempty"`
	} `json:"eval"`
}

func (a *lensAPI) lens(w http.ResponseWriter, r *http.Request) error {
	var in lensRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	out, err := runLens(r.Context(), modelFrom(r), in, true)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// runLens validates a lens request and decodes its sequence with the logit
// lens and, unless in.Tuned is false, the tuned lens (trained once per
// model); with eval, both also run on held-out sequences for the curves.
func runLens(ctx context.Context, m *model, in lensRequest, eval bool) (lensResponse, error) {
	var out lensResponse
	toks, pieces, err := in.resolve("tokens", m)
	if err != nil {
		return out, err
	}
	if len(toks) < 2 {
		return out, errorf(http.StatusBadRequest, "web: the lens needs at least 2 tokens (it scores next-token predictions)")
	}
	if in.K == 0 {
		in.K = lens.DefaultTopK
	}
	if in.K < 1 || in.K > maxTopK {
		return out, errorf(http.StatusBadRequest, "web: k=%d: want 1 to %d top tokens", in.K, maxTopK)
	}
	if err := checkTask(m); err != nil {
		return out, err
	}
	out.Tokens, out.Pieces, out.Labels = toks, pieces, lens.Labels(m.m.Cfg)
	rep := data.RepeatedPositions(toks)
	out.Predictable = []int{}
	for p, ok := range rep {
		if ok {
			out.Predictable = append(out.Predictable, p)
		}
	}
	if eval {
		out.Eval.Sequences = evalSeqs
		out.Eval.Predictable = "the second copy of each repeated block (the task's scored targets)"
	}
	seq := [][]int{toks}
	keep := keepLogits(m, len(toks))
	seqStats := func(st []lens.Stats) lensStats {
		js := statsJSON(m, st)
		if keep {
			js.Positions = positionMetrics(st, seq, func(_, p int) bool { return rep[p] })
		}
		return js
	}
	st, err := lens.Logit(ctx, m.m, seq, lens.Options{TopK: in.K, Logits: keep})
	if err != nil {
		return out, inputErr(ctx, err)
	}
	out.Logit = seqStats(st)
	if eval {
		if out.Eval.Logit, err = m.logitEval.get(func() (lensStats, error) {
			return heldOutStats(ctx, m, func(ctx context.Context, toks [][]int, o lens.Options) ([]lens.Stats, error) {
				return lens.Logit(ctx, m.m, toks, o)
			})
		}); err != nil {
			return out, err
		}
	}
	if in.Tuned != nil && !*in.Tuned {
		return out, nil
	}
	tuned, err := m.tuned.get(func() (*lens.Tuned, error) {
		ctx, cancel := detached(ctx)
		defer cancel()
		task := m.task
		b := data.NewBatch(tunedBatch, task.SeqLen())
		d := lens.Data{Batch: tunedBatch, Pos: task.SeqLen(), Fill: func(dst []int32, rng *rand.Rand) {
			task.Fill(b, rng)
			copy(dst, b.Tokens)
		}}
		return lens.Train(ctx, m.m, d, lens.TrainConfig{Seed: tunedSeed})
	})
	if err != nil {
		return out, err
	}
	if st, err = tuned.Evaluate(ctx, m.m, seq, lens.Options{TopK: in.K, Logits: keep}); err != nil {
		return out, inputErr(ctx, err)
	}
	tunedStats := seqStats(st)
	out.Tuned = &tunedStats
	if eval {
		evalStats, err := m.tunedEval.get(func() (lensStats, error) {
			return heldOutStats(ctx, m, func(ctx context.Context, toks [][]int, o lens.Options) ([]lens.Stats, error) {
				return tuned.Evaluate(ctx, m.m, toks, o)
			})
		})
		if err != nil {
			return out, err
		}
		out.Eval.Tuned = &evalStats
	}
	return out, nil
}

// heldOutStats runs a lens on the evalSeqs held-out sequences of m's task,
// the same for every request: callers keep the result (a memo of the
// model), computed detached from the request that asked first. Its
// per-position metrics count the task's weighted targets as predictable.
func heldOutStats(ctx context.Context, m *model, run func(ctx context.Context, toks [][]int, o lens.Options) ([]lens.Stats, error)) (lensStats, error) {
	ctx, cancel := detached(ctx)
	defer cancel()
	b, err := m.task.EvalSet(evalSeqs, evalSeed)
	if err != nil {
		return lensStats{}, err
	}
	rows := b.Rows()
	keep := keepLogits(m, b.N*b.SeqLen)
	st, err := run(ctx, rows, lens.Options{Logits: keep})
	if err != nil {
		return lensStats{}, err
	}
	out := statsJSON(m, st)
	if keep {
		out.Positions = positionMetrics(st, rows, func(i, p int) bool { return b.Weights[i*b.SeqLen+p] != 0 })
	}
	return out, nil
}

// statsJSON regroups per-point Stats by metric, keeping sequence 0's top
// tokens (with their text when m has a tokenizer).
func statsJSON(m *model, st []lens.Stats) lensStats {
	var out lensStats
	for _, s := range st {
		out.Loss = append(out.Loss, s.Loss)
		out.Accuracy = append(out.Accuracy, s.Accuracy)
		out.KLToFinal = append(out.KLToFinal, s.KLToFinal)
		out.Entropy = append(out.Entropy, s.Entropy)
		if len(s.Top) > 0 {
			point := make([][]topToken, len(s.Top[0]))
			for p, tps := range s.Top[0] {
				point[p] = make([]topToken, len(tps))
				for k, tp := range tps {
					point[p][k] = topToken{Token: tp.Token, Prob: tp.Prob, Text: m.pieceText(tp.Token)}
				}
			}
			out.Top = append(out.Top, point)
		}
	}
	return out
}
