package web

import (
	"embed"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/sae"
)

// The embedded dictionary of the demo model: a TopK SAE (d_sae 256, k 4)
// on blocks.1.hook_resid_post, 130 KB, made at commit 14768f1 by
//
//	go run ./cmd/workbench sae train --model web/demo --hook blocks.1.hook_resid_post \
//	    --out /tmp/saedemo --d-sae 256 --k 4 --steps 2000 --batch 512 --seed 0
//	cp /tmp/saedemo/cfg.json /tmp/saedemo/sae_weights.safetensors web/saedemo/
//
// (the demo's own induction task as input; held out: FVU 0.149, L0 4).
// Training is deterministic on one machine, so the command reproduces the
// files there and gives an equivalent dictionary elsewhere.
//
//go:embed saedemo/cfg.json saedemo/sae_weights.safetensors
var saeDemoFS embed.FS

// Bounds of the Features page's requests.
const (
	featureSeqs     = 64  // sequences of the model's task the dashboards are computed on
	featureListMax  = 200 // features one list response holds
	featureMaxNew   = 32  // tokens a steering request generates
	featureTopMax   = 50  // predictions a steering request lists
	featureMaxAlpha = 1e4 // |α| of a steering request
	featureContexts = 8
	featureWindow   = 8
)

// dictionary is a sparse dictionary served on the Features page, bound to
// one model; its feature summaries compute once.
type dictionary struct {
	name, model string
	s           *sae.SAE
	summaries   memo[*sae.Dashboards]
}

// featuresAPI is /api/features: the dictionaries, their feature lists,
// dashboards and steering.
type featuresAPI struct {
	store *store
	dicts []*dictionary
	log   *slog.Logger
}

// newFeaturesAPI loads the embedded demo dictionary and those of specs
// (serve --sae): "MODEL=DIR" binds DIR's dictionary to the served model
// MODEL, a bare "DIR" to the demo. Each is named by its folder's base
// name, made unique; a dictionary that does not fit its model's hook is an
// error naming its path.
func newFeaturesAPI(specs []string, st *store, log *slog.Logger) (*featuresAPI, error) {
	cfg, err := saeDemoFS.ReadFile("saedemo/cfg.json")
	if err != nil {
		return nil, err
	}
	w, err := saeDemoFS.ReadFile("saedemo/sae_weights.safetensors")
	if err != nil {
		return nil, err
	}
	demo, err := sae.Parse(cfg, w)
	if err != nil {
		return nil, fmt.Errorf("web: the embedded dictionary: %w", err)
	}
	a := &featuresAPI{store: st, log: log, dicts: []*dictionary{{name: "demo-sae", model: demoName, s: demo}}}
	taken := map[string]bool{"demo-sae": true}
	for _, spec := range specs {
		modelName, dir, ok := strings.Cut(spec, "=")
		if !ok {
			modelName, dir = demoName, spec
		}
		s, err := sae.Load(dir)
		if err != nil {
			return nil, fmt.Errorf("web: --sae %s: %w", spec, err)
		}
		m, err := st.get(modelName)
		if err != nil {
			return nil, fmt.Errorf("web: --sae %s: model %q: %w", spec, modelName, err)
		}
		// The dictionary's hooks exist on the model and its width is theirs.
		st, err := s.FeatureSteering(0, 0)
		if err == nil {
			_, err = st.Set(m.m)
		}
		if err == nil {
			_, err = m.m.ParseHook(s.Cfg.HookName)
		}
		if err != nil {
			return nil, fmt.Errorf("web: --sae %s: model %q: %w", spec, modelName, err)
		}
		base := filepath.Base(filepath.Clean(dir))
		if checkName(base) != nil {
			base = "sae"
		}
		d := &dictionary{name: uniqueName(base, taken), model: m.name, s: s}
		taken[d.name] = true
		a.dicts = append(a.dicts, d)
	}
	return a, nil
}

// Routes returns the /api/features router.
func (a *featuresAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", handle(a.log, a.list))
	r.Get("/{dict}/features", handle(a.log, a.features))
	r.Get("/{dict}/features/{id}", handle(a.log, a.feature))
	r.Post("/{dict}/steer", handle(a.log, a.steer))
	return r
}

// dictionaryJSON is one entry of GET /api/features.
type dictionaryJSON struct {
	Name         string `json:"name"`
	Model        string `json:"model"`
	Hook         string `json:"hook"`
	HookOut      string `json:"hook_out,omitempty"`
	DIn          int    `json:"d_in"`
	DSAE         int    `json:"d_sae"`
	Architecture string `json:"architecture"`
	K            int    `json:"k,omitempty"`
}

// list answers the dictionaries, those of ?model= alone when given.
func (a *featuresAPI) list(w http.ResponseWriter, r *http.Request) error {
	want := r.URL.Query().Get("model")
	out := []dictionaryJSON{}
	for _, d := range a.dicts {
		if want != "" && d.model != want {
			continue
		}
		c := d.s.Cfg
		out = append(out, dictionaryJSON{Name: d.name, Model: d.model, Hook: c.HookName, HookOut: c.HookNameOut, DIn: c.DIn, DSAE: c.DSAE, Architecture: c.Activation, K: c.K})
	}
	return writeJSON(w, http.StatusOK, out)
}

// dict resolves {dict} and its model.
func (a *featuresAPI) dict(r *http.Request) (*dictionary, *model, error) {
	name, err := urlParam(r, "dict")
	if err != nil {
		return nil, nil, err
	}
	for _, d := range a.dicts {
		if d.name == name {
			m, err := a.store.get(d.model)
			return d, m, err
		}
	}
	return nil, nil, errorf(http.StatusNotFound, "web: no dictionary %q (serve --sae MODEL=DIR adds one)", name)
}

// corpus returns the sequences the dashboards are computed on:
// featureSeqs sequences of the model's repeated-token task, seed 0.
func corpus(m *model) ([][]int, error) {
	if err := checkTask(m); err != nil {
		return nil, err
	}
	b := data.NewBatch(featureSeqs, m.task.SeqLen())
	m.task.Fill(b, rand.New(rand.NewPCG(0, 0)))
	return b.Rows(), nil
}

// tokenText labels tokens for m: their text with a tokenizer, else nil.
func tokenText(m *model) func(int) string {
	if m.tok == nil {
		return nil
	}
	return m.pieceText
}

// tokenJSON is a token and its text (empty without a tokenizer).
type tokenJSON struct {
	Token int    `json:"token"`
	Text  string `json:"text,omitempty"`
}

// featureRow is a feature of the list.
type featureRow struct {
	ID        int         `json:"id"`
	Density   float64     `json:"density"`
	MaxAct    float64     `json:"max_act"`
	TopTokens []tokenJSON `json:"top_tokens"`
	TopLogits []tokenJSON `json:"top_logits"`
}

// features answers the feature list, densest first: ?by=id&q=N the
// feature N; ?by=token&q=S those whose strongest tokens or top promoted
// tokens are S (an id, or for a model with a tokenizer text its piece
// contains, case-insensitively); no q: all. At most featureListMax rows.
func (a *featuresAPI) features(w http.ResponseWriter, r *http.Request) error {
	d, m, err := a.dict(r)
	if err != nil {
		return err
	}
	seqs, err := corpus(m)
	if err != nil {
		return err
	}
	db, err := d.summaries.get(func() (*sae.Dashboards, error) {
		return d.s.Dashboards(r.Context(), m.m, seqs, sae.DashboardOptions{Contexts: 1, Bins: 1, Logits: 1, Similar: 1})
	})
	if err != nil {
		return inputErr(r.Context(), err)
	}
	q := r.URL.Query()
	by, text := q.Get("by"), strings.TrimSpace(q.Get("q"))
	if by == "" {
		by = "id"
	}
	if by != "id" && by != "token" {
		return errorf(http.StatusBadRequest, "web: by=%q: want id or token", by)
	}
	label := func(t int) tokenJSON { return tokenJSON{Token: t, Text: m.pieceText(t)} }
	match := func(s sae.FeatureSummary) bool { return true }
	switch {
	case text == "":
	case by == "id":
		id, err := strconv.Atoi(text)
		if err != nil {
			return errorf(http.StatusBadRequest, "web: search by id: %q is not a feature id", text)
		}
		match = func(s sae.FeatureSummary) bool { return s.ID == id }
	default:
		id, numErr := strconv.Atoi(text)
		low := strings.ToLower(text)
		match = func(s sae.FeatureSummary) bool {
			for _, t := range append(slices.Clone(s.TopTokens), s.TopLogits...) {
				if numErr == nil && t == id || m.tok != nil && strings.Contains(strings.ToLower(m.pieceText(t)), low) {
					return true
				}
			}
			return false
		}
	}
	rows := []featureRow{}
	total := 0
	for _, s := range db.Summaries {
		if !match(s) {
			continue
		}
		total++
		row := featureRow{ID: s.ID, Density: s.Density, MaxAct: s.MaxAct, TopTokens: []tokenJSON{}, TopLogits: []tokenJSON{}}
		for _, t := range s.TopTokens {
			row.TopTokens = append(row.TopTokens, label(t))
		}
		for _, t := range s.TopLogits {
			row.TopLogits = append(row.TopLogits, label(t))
		}
		rows = append(rows, row)
	}
	slices.SortStableFunc(rows, func(x, y featureRow) int {
		switch {
		case x.Density > y.Density:
			return -1
		case x.Density < y.Density:
			return 1
		}
		return x.ID - y.ID
	})
	return writeJSON(w, http.StatusOK, map[string]any{"dictionary": d.name, "model": m.name, "hook": d.s.Cfg.HookName,
		"positions": db.Positions, "sequences": db.Sequences, "total": total, "features": rows[:min(len(rows), featureListMax)]})
}

// feature answers one feature's dashboard.
func (a *featuresAPI) feature(w http.ResponseWriter, r *http.Request) error {
	d, m, err := a.dict(r)
	if err != nil {
		return err
	}
	idText, err := urlParam(r, "id")
	if err != nil {
		return err
	}
	id, err := strconv.Atoi(idText)
	if err != nil || id < 0 || id >= d.s.Cfg.DSAE {
		return errorf(http.StatusBadRequest, "web: feature %q: want an id in [0, %d)", idText, d.s.Cfg.DSAE)
	}
	seqs, err := corpus(m)
	if err != nil {
		return err
	}
	db, err := d.s.Dashboards(r.Context(), m.m, seqs, sae.DashboardOptions{Features: []int{id}, Contexts: featureContexts,
		Window: featureWindow, Bins: 20, Logits: 10, Similar: 8, TokenText: tokenText(m)})
	if err != nil {
		return inputErr(r.Context(), err)
	}
	return writeJSON(w, http.StatusOK, db.Features[0])
}

// steerRequest is POST /api/features/{dict}/steer: a feature, α, and a
// prompt (tokens, text of ids or, with a tokenizer, prompt text).
type steerRequest struct {
	tokensInput
	Feature *int     `json:"feature"`
	Alpha   *float64 `json:"alpha"`
	MaxNew  int      `json:"max_new"`
	Top     int      `json:"top"`
}

// steerResponse is a steering result with the tokens' text.
type steerResponse struct {
	*sae.SteerResult
	Tokens      []int    `json:"tokens"`
	Pieces      []string `json:"pieces,omitempty"`
	CleanNew    []string `json:"clean_new_text,omitempty"`
	SteeredNew  []string `json:"steered_new_text,omitempty"`
	CleanLoss   *float64 `json:"clean_loss,omitempty"`
	SteeredLoss *float64 `json:"steered_loss,omitempty"`
}

// steer adds α × the feature's decoder direction at the dictionary's hook
// while the model reads the prompt, and answers what changes.
func (a *featuresAPI) steer(w http.ResponseWriter, r *http.Request) error {
	d, m, err := a.dict(r)
	if err != nil {
		return err
	}
	var in steerRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.Feature == nil || in.Alpha == nil {
		return errorf(http.StatusBadRequest, "web: steer: give feature and alpha")
	}
	if math.IsNaN(*in.Alpha) || math.Abs(*in.Alpha) > featureMaxAlpha {
		return errorf(http.StatusBadRequest, "web: steer: alpha %g outside [−%g, %g]", *in.Alpha, featureMaxAlpha, featureMaxAlpha)
	}
	if in.MaxNew < 0 || in.MaxNew > featureMaxNew || in.Top < 0 || in.Top > featureTopMax {
		return errorf(http.StatusBadRequest, "web: steer: max_new %d outside [0, %d] or top %d outside [0, %d]", in.MaxNew, featureMaxNew, in.Top, featureTopMax)
	}
	if in.Top == 0 {
		in.Top = 10
	}
	st, err := d.s.FeatureSteering(*in.Feature, *in.Alpha)
	if err != nil {
		return badRequest(err)
	}
	toks, pieces, err := in.tokensInput.resolve("steer", m)
	if err != nil {
		return err
	}
	res, err := sae.Steer(r.Context(), m.m, toks, st, sae.SteerOptions{TopK: in.Top, MaxNew: in.MaxNew})
	if err != nil {
		return inputErr(r.Context(), err)
	}
	out := steerResponse{SteerResult: res, Tokens: toks, Pieces: pieces}
	if len(toks) > 1 {
		cl, sl, err := sae.SteerLoss(r.Context(), m.m, [][]int{toks}, st)
		if err != nil {
			return inputErr(r.Context(), err)
		}
		out.CleanLoss, out.SteeredLoss = &cl, &sl
	}
	if m.tok != nil {
		for _, l := range [][]sae.Prediction{res.Clean, res.Steered} {
			for i := range l {
				l[i].Text = m.pieceText(l[i].Token)
			}
		}
		for _, l := range [][]sae.TokenEffect{res.Raised, res.Lowered} {
			for i := range l {
				l[i].Text = m.pieceText(l[i].Token)
			}
		}
		for _, t := range res.CleanNew {
			out.CleanNew = append(out.CleanNew, m.pieceText(t))
		}
		for _, t := range res.SteeredNew {
			out.SteeredNew = append(out.SteeredNew, m.pieceText(t))
		}
	}
	return writeJSON(w, http.StatusOK, out)
}
