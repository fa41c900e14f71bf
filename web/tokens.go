package web

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/train/induction"
	"github.com/mechinterp/workbench/transformer"
)

// taskFor returns the repeated-random-tokens task to sample a model's
// inputs from: the one it was trained on when its checkpoint says so (the
// "induction" metadata train/induction writes), else one filling n_ctx:
// L = n_ctx/2 (at most maxTaskHalf: the held-out lens sets and the tuned
// lens would be slow on real models' long contexts), repeats of L/2..L
// tokens, distinct when the vocabulary allows. The result may be invalid
// for tiny models; callers check.
func taskFor(c transformer.Config, inductionJSON string) data.Induction {
	if t, ok := trainedTask(c, inductionJSON); ok {
		return t
	}
	L := min(c.NCtx/2, maxTaskHalf)
	t := data.Induction{Vocab: c.DVocab, L: L, MinRepeat: max(1, L/2), Distinct: true}
	if t.Validate() != nil {
		t.Distinct = false
	}
	return t
}

// trainedTask returns the task of a checkpoint's "induction" metadata, if
// it holds a valid one that fits the model.
func trainedTask(c transformer.Config, inductionJSON string) (data.Induction, bool) {
	if inductionJSON == "" {
		return data.Induction{}, false
	}
	var ic induction.Config
	if json.Unmarshal([]byte(inductionJSON), &ic) != nil {
		return data.Induction{}, false
	}
	t := ic.Task()
	return t, t.Validate() == nil && t.SeqLen() <= c.NCtx && t.Vocab <= c.DVocab
}

// describeTask says in words what a model trained on the induction task t
// saw, for the pages: what inputs it knows.
func describeTask(t data.Induction) string {
	distinct := ""
	if t.Distinct {
		distinct = " distinct"
	}
	first := 0
	if t.BOS {
		first = 1
	}
	block := fmt.Sprintf("%d–%d", t.MinRepeat, t.L)
	if t.MinRepeat == t.L {
		block = fmt.Sprint(t.L)
	}
	return fmt.Sprintf("repeated random blocks: %d-token sequences of random filler, then a block of %s%s random tokens (ids %d–%d), then the same block again, which it learns to predict",
		t.SeqLen(), block, distinct, first, t.Vocab-1)
}

// maxTaskHalf bounds L of the task taskFor makes up.
const maxTaskHalf = 64

// checkTask reports a task the model is too small for as a 422.
func checkTask(m *model) error {
	if err := m.task.Validate(); err != nil {
		return errorf(http.StatusUnprocessableEntity, "web: model %q is too small for repeated-token sequences: %v", m.name, err)
	}
	return nil
}

// tokensAPI is /api/models/{name}/tokens: inputs for the pages.
type tokensAPI struct{ log *slog.Logger }

// Routes returns the /tokens router.
func (a *tokensAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Get("/repeated", handle(a.log, a.repeated))
	r.Post("/generate", handle(a.log, a.generate))
	r.Post("/encode", handle(a.log, a.encode))
	return r
}

// repeatedJSON is a generated repeated sequence: filler, a block of
// Repeat random tokens starting at First, and its copy starting at Second.
type repeatedJSON struct {
	Tokens []int `json:"tokens"`
	Repeat int   `json:"repeat"`
	First  int   `json:"first"`
	Second int   `json:"second"`
	Seed   int   `json:"seed"`
}

// repeated draws one sequence of the model's task from seed: ?seed=S
// (default 1), and ?repeat=R for a block of exactly R tokens and its copy
// with no filler (default: the training distribution, filler included).
func (a *tokensAPI) repeated(w http.ResponseWriter, r *http.Request) error {
	m := modelFrom(r)
	if err := checkTask(m); err != nil {
		return err
	}
	q := r.URL.Query()
	seed, err := intParam(q, "seed", 1, 0, 1<<31)
	if err != nil {
		return err
	}
	task := m.task
	repeat, err := intParam(q, "repeat", 0, 1, task.L)
	if err != nil {
		return err
	}
	if repeat > 0 {
		// Ls = L = repeat: the block and its copy, no filler.
		task.L, task.MinRepeat = repeat, repeat
	}
	b := data.NewBatch(1, task.SeqLen())
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)))
	task.Fill(b, rng)
	ls := b.Repeat[0]
	out := repeatedJSON{Tokens: b.Rows()[0], Repeat: ls, First: b.SeqLen - 2*ls, Second: b.SeqLen - ls, Seed: seed}
	return writeJSON(w, http.StatusOK, out)
}

// maxGenerate bounds the tokens one generate request adds.
const maxGenerate = 1 << 12

// generate extends {"tokens"|"text"|"prompt"} greedily by "n" tokens; a
// model with a tokenizer adds "pieces", the text of every token.
func (a *tokensAPI) generate(w http.ResponseWriter, r *http.Request) error {
	m := modelFrom(r)
	var in struct {
		tokensInput
		N int `json:"n"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	toks, _, err := in.resolve("tokens", m)
	if err != nil {
		return err
	}
	if in.N < 1 || in.N > maxGenerate {
		return errorf(http.StatusBadRequest, "web: n=%d: want 1 to %d new tokens", in.N, maxGenerate)
	}
	prompt := make([]int32, len(toks)) // resolve checked the ids
	for i, t := range toks {
		prompt[i] = int32(t)
	}
	gen, err := m.m.Generate(r.Context(), [][]int32{prompt}, transformer.GenerateOptions{MaxNew: in.N})
	if err != nil {
		return inputErr(r.Context(), err)
	}
	out := toks
	for _, t := range gen[0] {
		out = append(out, int(t))
	}
	res := map[string]any{"tokens": out, "prompt": len(toks)}
	if m.tok != nil {
		pieces := make([]string, len(out))
		for i, t := range out {
			pieces[i] = m.pieceText(t)
		}
		res["pieces"] = pieces
	}
	return writeJSON(w, http.StatusOK, res)
}
