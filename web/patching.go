package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/patching"
)

// patchingAPI is /api/models/{name}/patching: activation-patching sweeps
// from a clean and a corrupted input.
type patchingAPI struct{ log *slog.Logger }

// Routes returns the /patching router.
func (a *patchingAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Post("/", handle(a.log, a.sweep))
	r.Get("/example", handle(a.log, a.example))
	return r
}

// tokenList is a token sequence in a request: [1, 2, 3] or "1 2 3".
type tokenList struct{ tokensInput }

// UnmarshalJSON accepts an array of ids or a string of ids.
func (t *tokenList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &t.Text)
	}
	return json.Unmarshal(b, &t.Tokens)
}

// patchRequest is POST /patching. Metric is logit-diff (the default; needs
// answer and wrong), prob (needs answer) or loss (next-token loss of the
// clean sequence, or −log p(answer) at pos with answer). Pos defaults to
// the last position, What to resid_pre, ByPos to true.
type patchRequest struct {
	Clean     tokenList `json:"clean"`
	Corrupted tokenList `json:"corrupted"`
	Metric    string    `json:"metric"`
	Answer    *int      `json:"answer"`
	Wrong     *int      `json:"wrong"`
	Pos       *int      `json:"pos"`
	What      string    `json:"what"`
	ByPos     *bool     `json:"by_pos"`
	Normalize bool      `json:"normalize"`
	// Text for a model with a tokenizer, instead of clean, corrupted,
	// answer and wrong: the two prompts (BOS policy bos, as everywhere) and
	// the answers as strings that must be one token each (" Mary").
	CleanPrompt     string  `json:"clean_prompt,omitempty"`
	CorruptedPrompt string  `json:"corrupted_prompt,omitempty"`
	BOS             string  `json:"bos,omitempty"`
	AnswerText      *string `json:"answer_text,omitempty"`
	WrongText       *string `json:"wrong_text,omitempty"`
}

// patchResponse is the sweep's grid (patching.Grid's JSON: what, metric,
// clean, corrupted, normalized, axes, values) and the two inputs.
type patchResponse struct {
	Grid      *patching.Grid `json:"grid"`
	Clean     []int          `json:"clean_tokens"`
	Corrupted []int          `json:"corrupted_tokens"`
	// For a model with a tokenizer: the tokens' text, and the answer and
	// wrong tokens the metric used with theirs.
	CleanPieces     []string `json:"clean_pieces,omitempty"`
	CorruptedPieces []string `json:"corrupted_pieces,omitempty"`
	Answer          *int     `json:"answer,omitempty"`
	Wrong           *int     `json:"wrong,omitempty"`
	AnswerText      *string  `json:"answer_text,omitempty"`
	WrongText       *string  `json:"wrong_text,omitempty"`
}

func (a *patchingAPI) sweep(w http.ResponseWriter, r *http.Request) error {
	var in patchRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	out, err := runSweep(r.Context(), modelFrom(r), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// runSweep validates a patching request and runs its sweep.
func runSweep(ctx context.Context, m *model, in patchRequest) (patchResponse, error) {
	var out patchResponse
	if err := in.textInputs(m); err != nil {
		return out, err
	}
	clean, cleanPieces, err := in.Clean.resolve("clean", m)
	if err != nil {
		return out, err
	}
	corrupted, corruptedPieces, err := in.Corrupted.resolve("corrupted", m)
	if err != nil {
		return out, err
	}
	if len(clean) != len(corrupted) {
		return out, errorf(http.StatusBadRequest, "web: the clean input is %d tokens and the corrupted %d: their lengths must match, as patching swaps activations position by position (clean: %s; corrupted: %s)",
			len(clean), len(corrupted), quotePieces(clean, cleanPieces), quotePieces(corrupted, corruptedPieces))
	}
	if in.What == "" {
		in.What = string(patching.ResidPre)
	}
	kind, err := patching.ParseKind(in.What)
	if err != nil {
		return out, badRequest(err)
	}
	metric, err := patchMetric(in, clean)
	if err != nil {
		return out, err
	}
	e, err := patching.New(ctx, m.m, [][]int{clean}, [][]int{corrupted}, metric)
	if err != nil {
		return out, inputErr(ctx, err)
	}
	g, err := e.Sweep(ctx, kind, patching.Options{ByPos: in.ByPos == nil || *in.ByPos})
	if err != nil {
		return out, inputErr(ctx, err)
	}
	if in.Normalize {
		if g, err = g.Normalize(); err != nil {
			return out, badRequest(fmt.Errorf("%w (the clean and corrupted inputs score the same, so there is nothing to normalise)", err))
		}
	}
	out = patchResponse{Grid: g, Clean: clean, Corrupted: corrupted, CleanPieces: cleanPieces, CorruptedPieces: corruptedPieces, Answer: in.Answer, Wrong: in.Wrong}
	if m.tok != nil {
		for _, p := range []struct {
			id   *int
			text **string
		}{{in.Answer, &out.AnswerText}, {in.Wrong, &out.WrongText}} {
			if p.id != nil {
				t := m.pieceText(*p.id)
				*p.text = &t
			}
		}
	}
	return out, nil
}

// textInputs turns a request's prompts and answer strings into the
// inputs and ids they stand for, refusing both forms of one input.
func (in *patchRequest) textInputs(m *model) error {
	for _, p := range []struct {
		what   string
		prompt string
		dst    *tokenList
	}{{"clean", in.CleanPrompt, &in.Clean}, {"corrupted", in.CorruptedPrompt, &in.Corrupted}} {
		if p.prompt == "" {
			if in.BOS != "" && p.dst.Tokens == nil && p.dst.Text == "" {
				return errorf(http.StatusBadRequest, "web: bos applies to clean_prompt and corrupted_prompt only")
			}
			continue
		}
		if p.dst.Tokens != nil || p.dst.Text != "" {
			return errorf(http.StatusBadRequest, "web: give %s or %s_prompt, not both", p.what, p.what)
		}
		p.dst.Prompt, p.dst.BOS = p.prompt, in.BOS
	}
	return m.textAnswers(in.AnswerText, in.WrongText, &in.Answer, &in.Wrong)
}

// quotePieces writes a sequence for an error message: its pieces quoted,
// or its ids.
func quotePieces(toks []int, pieces []string) string {
	if pieces == nil {
		return fmt.Sprint(toks)
	}
	parts := make([]string, len(pieces))
	for i, p := range pieces {
		parts[i] = strconv.Quote(p)
	}
	return strings.Join(parts, " ")
}

// patchMetric builds the request's metric.
func patchMetric(in patchRequest, clean []int) (patching.Metric, error) {
	pos := patching.Last
	if in.Pos != nil {
		pos = *in.Pos
	}
	one := func(p *int) []int { return []int{*p} }
	switch in.Metric {
	case "", "logit-diff":
		if in.Answer == nil || in.Wrong == nil {
			return nil, errorf(http.StatusBadRequest, "web: metric logit-diff needs \"answer\" and \"wrong\" token ids")
		}
		return patching.LogitDiff{Answer: one(in.Answer), Wrong: one(in.Wrong), Pos: pos}, nil
	case "prob":
		if in.Answer == nil {
			return nil, errorf(http.StatusBadRequest, "web: metric prob needs an \"answer\" token id")
		}
		return patching.Prob{Answer: one(in.Answer), Pos: pos}, nil
	case "loss":
		if in.Answer == nil {
			return patching.Loss{Targets: patching.NextTokenTargets([][]int{clean}, 0)}, nil
		}
		p := pos
		if p < 0 {
			p += len(clean)
		}
		if p < 0 || p >= len(clean) {
			return nil, errorf(http.StatusBadRequest, "web: pos %d is outside the %d positions", pos, len(clean))
		}
		targets := slices.Repeat([]int{-1}, len(clean))
		targets[p] = *in.Answer
		return patching.Loss{Targets: [][]int{targets}}, nil
	}
	return nil, errorf(http.StatusBadRequest, "web: unknown metric %q (want logit-diff, prob or loss)", in.Metric)
}

// patchExample is an induction experiment ready to POST: the clean input
// ends inside the repeated block, so the model should predict the token
// that followed the last token's earlier occurrence (Answer); the
// corrupted input changes that earlier token to Wrong, which an induction
// circuit copies instead.
type patchExample struct {
	Clean     []int  `json:"clean"`
	Corrupted []int  `json:"corrupted"`
	Answer    int    `json:"answer"`
	Wrong     int    `json:"wrong"`
	Pos       int    `json:"pos"`
	Metric    string `json:"metric"`
	What      string `json:"what"`
	ByPos     bool   `json:"by_pos"`
	Changed   int    `json:"changed"` // the corrupted position
	Note      string `json:"note"`
}

// example draws a patching example from the model's task: ?seed=S.
func (a *patchingAPI) example(w http.ResponseWriter, r *http.Request) error {
	m := modelFrom(r)
	if err := checkTask(m); err != nil {
		return err
	}
	seed, err := intParam(r.URL.Query(), "seed", 1, 0, 1<<31)
	if err != nil {
		return err
	}
	task := m.task
	task.MinRepeat = max(task.MinRepeat, 2)
	if task.MinRepeat > task.L {
		return errorf(http.StatusUnprocessableEntity, "web: model %q's sequences are too short for a patching example", m.name)
	}
	b := data.NewBatch(1, task.SeqLen())
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)))
	task.Fill(b, rng)
	T, ls := b.SeqLen, b.Repeat[0]
	full := b.Rows()[0]
	clean := full[:T-1]   // ends at P[ls-2], position T-2
	changed := T - 1 - ls // P[ls-1] in the first copy
	answer := full[T-1]   // P[ls-1]
	wrong := (answer + 1) % task.Vocab
	for t := range task.Vocab { // prefer a token absent from the input
		cand := (answer + 1 + t) % task.Vocab
		if !slices.Contains(clean, cand) && (!task.BOS || cand != int(data.BOSToken)) {
			wrong = cand
			break
		}
	}
	corrupted := slices.Clone(clean)
	corrupted[changed] = wrong
	return writeJSON(w, http.StatusOK, patchExample{
		Clean: clean, Corrupted: corrupted, Answer: answer, Wrong: wrong, Pos: patching.Last,
		Metric: "logit-diff", What: string(patching.ResidPre), ByPos: true, Changed: changed,
		Note: fmt.Sprintf("token %d at position %d occurred before at position %d, followed by %d; the corrupted input puts %d there instead",
			clean[T-2], T-2, T-2-ls, answer, wrong),
	})
}
