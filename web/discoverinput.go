package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"

	"github.com/mechinterp/workbench/discover"
	"github.com/mechinterp/workbench/patching"
)

// tokenBatch is a batch of token sequences in a request: [[1, 2], [3, 4]]
// (each row as tokenList reads it), or one sequence ([1, 2, 3] or
// "1 2 3").
type tokenBatch struct{ Rows []tokenList }

// UnmarshalJSON accepts an array of sequences or one sequence.
func (t *tokenBatch) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var rows []json.RawMessage
		if err := json.Unmarshal(b, &rows); err != nil {
			return err
		}
		if len(rows) > 0 {
			if r := bytes.TrimSpace(rows[0]); len(r) > 0 && (r[0] == '[' || r[0] == '"') {
				return json.Unmarshal(b, &t.Rows)
			}
		}
	}
	var one tokenList
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	t.Rows = []tokenList{one}
	return nil
}

// discoverInputs describe an experiment: the clean and corrupted batches
// (ids, or for a model with a tokenizer one prompt each, as the patching
// API takes them), the metric and the ablation.
type discoverInputs struct {
	Clean     tokenBatch `json:"clean"`
	Corrupted tokenBatch `json:"corrupted"`
	// Metric is logit-diff (answer − wrong logit at pos, the last by
	// default), loss (next-token loss of the clean batch) or kl (to the
	// full model's next-token distributions).
	Metric string `json:"metric"`
	Answer *int   `json:"answer,omitempty"`
	Wrong  *int   `json:"wrong,omitempty"`
	Pos    *int   `json:"pos,omitempty"`
	// Weights [batch][pos] select the positions loss and kl count
	// (positive weights); nil counts every position.
	Weights  [][]float32 `json:"weights,omitempty"`
	Ablation string      `json:"ablation,omitempty"` // corrupted (default), mean or zero

	CleanPrompt     string  `json:"clean_prompt,omitempty"`
	CorruptedPrompt string  `json:"corrupted_prompt,omitempty"`
	BOS             string  `json:"bos,omitempty"`
	AnswerText      *string `json:"answer_text,omitempty"`
	WrongText       *string `json:"wrong_text,omitempty"`
}

// ablation is the request's ablation name, corrupted by default.
func (in *discoverInputs) ablation() string {
	if in.Ablation == "" {
		return discover.Corrupted.String()
	}
	return in.Ablation
}

// experiment validates the inputs against m and runs the clean and
// corrupted batches: the experiment, and its batch × positions. work, if
// not nil, is asked before anything runs whether the method may run on
// the graph and that many tokens.
func (in *discoverInputs) experiment(ctx context.Context, m *model, work func(g *discover.Graph, tokens int) error) (*discover.Experiment, int, error) {
	abl, err := discover.ParseAblation(in.ablation())
	if err != nil {
		return nil, 0, badRequest(err)
	}
	if err := in.textInputs(m); err != nil {
		return nil, 0, err
	}
	clean, err := in.Clean.resolve("clean", m)
	if err != nil {
		return nil, 0, err
	}
	corrupted, err := in.Corrupted.resolve("corrupted", m)
	if err != nil {
		return nil, 0, err
	}
	if len(clean) != len(corrupted) || len(clean[0]) != len(corrupted[0]) {
		return nil, 0, errorf(http.StatusBadRequest, "web: the clean batch is %d×%d tokens and the corrupted %d×%d: their shapes must match, as an edge carries its corrupted value position by position",
			len(clean), len(clean[0]), len(corrupted), len(corrupted[0]))
	}
	batch, pos := len(clean), len(clean[0])
	g, err := discover.NewGraph(m.m.Cfg)
	if err != nil {
		return nil, 0, errorf(http.StatusUnprocessableEntity, "web: model %q: %v", m.name, err)
	}
	if f := (len(g.Senders) + len(g.Receivers)) * batch * pos * m.m.Cfg.DModel; f > maxDiscoverFloats {
		return nil, 0, errorf(http.StatusBadRequest, "web: %d×%d tokens on this model's %d nodes would hold %d floats, more than the %d this server allows: use fewer or shorter sequences",
			batch, pos, len(g.Senders)+len(g.Receivers), f, maxDiscoverFloats)
	}
	if work != nil {
		if err := work(g, batch*pos); err != nil {
			return nil, 0, err
		}
	}
	if err := checkPositionWeights(in.Weights, batch, pos); err != nil {
		return nil, 0, err
	}
	var metric patching.Metric
	switch in.Metric {
	case "logit-diff":
		if in.Answer == nil || in.Wrong == nil {
			return nil, 0, errorf(http.StatusBadRequest, "web: metric logit-diff needs \"answer\" and \"wrong\" token ids (or answer_text and wrong_text)")
		}
		if in.Weights != nil {
			return nil, 0, errorf(http.StatusBadRequest, "web: weights apply to the loss and kl metrics; logit-diff reads one position, pos")
		}
		p := patching.Last
		if in.Pos != nil {
			p = *in.Pos
		}
		metric = patching.LogitDiff{Answer: []int{*in.Answer}, Wrong: []int{*in.Wrong}, Pos: p}
	case "loss", "kl":
		if in.Answer != nil || in.Wrong != nil || in.Pos != nil {
			return nil, 0, errorf(http.StatusBadRequest, "web: answer, wrong and pos apply to metric logit-diff only")
		}
		if in.Metric == "loss" {
			metric = discover.LossOn(clean, in.Weights)
		} else if metric, err = discover.NewKL(ctx, m.m, clean, in.Weights); err != nil {
			return nil, 0, inputErr(ctx, err)
		}
	default:
		return nil, 0, errorf(http.StatusBadRequest, "web: unknown metric %q (want logit-diff, loss or kl)", in.Metric)
	}
	e, err := discover.New(ctx, m.m, clean, corrupted, metric, abl)
	if err != nil {
		return nil, 0, inputErr(ctx, err)
	}
	return e, batch * pos, nil
}

// textInputs resolves the prompts and answer strings as the patching API
// does: a prompt stands for a batch of one sequence.
func (in *discoverInputs) textInputs(m *model) error {
	p := patchRequest{CleanPrompt: in.CleanPrompt, CorruptedPrompt: in.CorruptedPrompt, BOS: in.BOS,
		Answer: in.Answer, Wrong: in.Wrong, AnswerText: in.AnswerText, WrongText: in.WrongText}
	for _, b := range []struct {
		what   string
		rows   *tokenBatch
		single *tokenList
	}{{"clean", &in.Clean, &p.Clean}, {"corrupted", &in.Corrupted, &p.Corrupted}} {
		switch len(b.rows.Rows) {
		case 0:
		case 1:
			*b.single = b.rows.Rows[0]
		default:
			if in.CleanPrompt != "" || in.CorruptedPrompt != "" {
				return errorf(http.StatusBadRequest, "web: give %s or %s_prompt, not both", b.what, b.what)
			}
		}
	}
	if err := p.textInputs(m); err != nil {
		return err
	}
	if in.CleanPrompt != "" {
		in.Clean.Rows = []tokenList{p.Clean}
	}
	if in.CorruptedPrompt != "" {
		in.Corrupted.Rows = []tokenList{p.Corrupted}
	}
	in.Answer, in.Wrong = p.Answer, p.Wrong
	return nil
}

// resolve returns the batch's sequences, each checked against m, within
// the bounds of a discovery request.
func (t tokenBatch) resolve(what string, m *model) ([][]int, error) {
	switch n := len(t.Rows); {
	case n == 0:
		return nil, errorf(http.StatusBadRequest, "web: %s: no sequences (give \"%s\": [[ids], ...] or, for a model with a tokenizer, \"%s_prompt\")", what, what, what)
	case n > maxDiscoverSeqs:
		return nil, errorf(http.StatusBadRequest, "web: %s: %d sequences, more than the %d this server runs", what, n, maxDiscoverSeqs)
	}
	out := make([][]int, len(t.Rows))
	total := 0
	for i, row := range t.Rows {
		name := what
		if len(t.Rows) > 1 {
			name = fmt.Sprintf("%s[%d]", what, i)
		}
		toks, _, err := row.resolve(name, m)
		if err != nil {
			return nil, err
		}
		if i > 0 && len(toks) != len(out[0]) {
			return nil, errorf(http.StatusBadRequest, "web: %s has %d tokens and %s[0] %d: the sequences of a batch must have equal lengths", name, len(toks), what, len(out[0]))
		}
		if total += len(toks); total > maxDiscoverTokens {
			return nil, errorf(http.StatusBadRequest, "web: %s: more than %d tokens, the most this server runs", what, maxDiscoverTokens)
		}
		out[i] = toks
	}
	return out, nil
}

// checkPositionWeights checks weights [batch][pos]: finite, non-negative.
func checkPositionWeights(w [][]float32, batch, pos int) error {
	if w == nil {
		return nil
	}
	if len(w) != batch {
		return errorf(http.StatusBadRequest, "web: weights for %d sequences, the batch has %d", len(w), batch)
	}
	for b, row := range w {
		if len(row) != pos {
			return errorf(http.StatusBadRequest, "web: weights[%d] has %d positions, the sequences %d", b, len(row), pos)
		}
		for _, x := range row {
			if x < 0 || math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return errorf(http.StatusBadRequest, "web: weight %g in weights[%d]: weights are finite and non-negative", x, b)
			}
		}
	}
	return nil
}
