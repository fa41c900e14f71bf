package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/circuits"
)

// circuitsAPI is /api/models/{name}/circuits: the circuits report of a
// model's weights and the full-circuit explorer.
type circuitsAPI struct{ log *slog.Logger }

// Routes returns the /circuits router.
func (a *circuitsAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", handle(a.log, a.report))
	r.Get("/heads/{layer}/{head}/{kind}", handle(a.log, a.circuit))
	return r
}

// analysisTimeout bounds analyses computed once per model and kept; they
// run detached from the request that asked first, so that a client going
// away does not waste the work for the next.
const analysisTimeout = 2 * time.Minute

// detached returns a context for work kept beyond ctx's request.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), analysisTimeout)
}

// report is circuits.Analyze's report (the JSON of `workbench analyze
// --json`): Q/K/V composition scores [l][h][l][h] with the analytic and
// sampled baselines, full-OV eigenvalue positivity and top-1 diagonal,
// previous-token, prefix-matching (induction) and copying scores on
// repeated random tokens, and the heads named by them.
func (a *circuitsAPI) report(w http.ResponseWriter, r *http.Request) error {
	m := modelFrom(r)
	b, err := m.reportJSON.get(func() ([]byte, error) {
		rep, err := m.circuitsReport(r)
		if err != nil {
			return nil, err
		}
		return json.Marshal(rep)
	})
	if err != nil {
		return err
	}
	writeRawJSON(w, http.StatusOK, b)
	return nil
}

// circuitsReport returns the model's circuits report, computed once.
func (m *model) circuitsReport(r *http.Request) (*circuits.Report, error) {
	return m.report.get(func() (*circuits.Report, error) {
		ctx, cancel := detached(r.Context())
		defer cancel()
		return circuits.Analyze(ctx, m.m, circuits.AnalyzeOptions{Seed: 1})
	})
}

// circuitKinds are the full circuits the explorer shows, by URL name.
var circuitKinds = map[string]struct {
	get   func(w *circuits.Weights, l, h int) (*circuits.FactoredMatrix, error)
	label string
}{
	"ov":     {(*circuits.Weights).FullOV, "full OV circuit W_E·W_V·W_O·W_U: row = attended token, column = output logit"},
	"qk":     {(*circuits.Weights).FullQK, "full QK circuit W_E·W_Q·W_Kᵀ·W_Eᵀ: row = query token, column = key token"},
	"pos-qk": {(*circuits.Weights).PosQK, "positional QK circuit W_pos·W_Q·W_Kᵀ·W_posᵀ: row = query position, column = key position"},
}

// maxDense bounds the circuits returned whole for the heatmap.
const maxDense = 128 * 128

// maxTopK bounds ?k=.
const maxTopK = 100

// circuitJSON is one head's full circuit: its shape, non-zero eigenvalues
// and positivity Σλ/Σ|λ| (square OV circuits only: they measure copying),
// the whole matrix when small, and, with ?token=, that row's largest and
// smallest entries (of the positional QK circuit, among the keys at or
// before the query position: the causal mask).
type circuitJSON struct {
	Kind        string       `json:"kind"`
	Label       string       `json:"label"`
	Head        string       `json:"head"`
	Rows        int          `json:"rows"`
	Cols        int          `json:"cols"`
	Eigenvalues [][2]float64 `json:"eigenvalues,omitempty"`
	Positivity  *float64     `json:"positivity,omitempty"`
	Matrix      [][]float64  `json:"matrix,omitempty"`
	Token       *int         `json:"token,omitempty"`
	Top         []rankedJSON `json:"top,omitempty"`
	Bottom      []rankedJSON `json:"bottom,omitempty"`
	// For a model with a tokenizer: the row token's text, and each
	// entry's (token circuits only).
	TokenText *string `json:"token_text,omitempty"`
}

// rankedJSON is circuits.Ranked with its token's text.
type rankedJSON struct {
	circuits.Ranked
	Text string `json:"text,omitempty"`
}

// circuit answers GET .../heads/{layer}/{head}/{ov|qk|pos-qk}[?token=T&k=K];
// ?token_text=S queries the row of the one token S encodes to.
func (a *circuitsAPI) circuit(w http.ResponseWriter, r *http.Request) error {
	m := modelFrom(r)
	c := m.m.Cfg
	kindName := chi.URLParam(r, "kind")
	kind, ok := circuitKinds[kindName]
	if !ok {
		return errorf(http.StatusNotFound, "web: no circuit %q (want ov, qk or pos-qk)", kindName)
	}
	l, err := pathInt(r, "layer", c.NLayers)
	if err != nil {
		return err
	}
	h, err := pathInt(r, "head", c.NHeads)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	k, err := intParam(q, "k", 10, 1, maxTopK)
	if err != nil {
		return err
	}
	wts, err := m.weights.get(func() (*circuits.Weights, error) { return circuits.WeightsOf(m.m), nil })
	if err != nil {
		return err
	}
	fm, err := kind.get(wts, l, h)
	if err != nil {
		return err
	}
	rows, cols := fm.Dims()
	out := circuitJSON{Kind: kindName, Label: kind.label, Head: circuits.HeadLabel(l, h), Rows: rows, Cols: cols}
	if q.Has("token") && q.Has("token_text") {
		return errorf(http.StatusBadRequest, "web: give ?token= or ?token_text=, not both")
	}
	if q.Has("token_text") {
		if kindName == "pos-qk" {
			return errorf(http.StatusBadRequest, "web: the positional QK circuit's rows are positions: give ?token=POSITION")
		}
		id, err := m.oneToken("token_text", q.Get("token_text"))
		if err != nil {
			return err
		}
		q.Set("token", strconv.Itoa(id))
	}
	if q.Has("token") {
		t, err := intParam(q, "token", 0, 0, rows-1)
		if err != nil {
			return err
		}
		row := fm.Row(nil, t)
		if kindName == "pos-qk" {
			// The causal mask: a query at position t attends to keys 0..t
			// only, so only those entries can rank.
			row = row[:t+1]
		}
		neg := make([]float64, len(row))
		for i, v := range row {
			neg[i] = -v
		}
		texts := m.tok != nil && kindName != "pos-qk"
		ranked := func(rs []circuits.Ranked, sign float64) []rankedJSON {
			out := make([]rankedJSON, len(rs))
			for i, r := range rs {
				r.Value *= sign
				out[i] = rankedJSON{Ranked: r}
				if texts {
					out[i].Text = m.pieceText(r.Index)
				}
			}
			return out
		}
		out.Token, out.Top, out.Bottom = &t, ranked(circuits.TopK(row, k), 1), ranked(circuits.TopK(neg, k), -1)
		if texts {
			s := m.pieceText(t)
			out.TokenText = &s
		}
		return writeJSON(w, http.StatusOK, out)
	}
	if rows == cols && kindName == "ov" {
		// Eigenvalues and their positivity measure copying, a property of
		// the OV circuit; for a QK circuit they would mean nothing.
		vals, err := fm.Eigenvalues()
		if err != nil {
			return err
		}
		for _, v := range vals {
			out.Eigenvalues = append(out.Eigenvalues, [2]float64{real(v), imag(v)})
		}
		p, err := circuits.EigenPositivity(fm)
		if err != nil {
			return err
		}
		out.Positivity = &p
	}
	if rows*cols <= maxDense {
		out.Matrix = make([][]float64, rows)
		for i := range out.Matrix {
			out.Matrix[i] = fm.Row(nil, i)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// pathInt parses a path parameter as an index in [0, n).
func pathInt(r *http.Request, key string, n int) (int, error) {
	s := chi.URLParam(r, key)
	v := 0
	for i, c := range s {
		if c < '0' || c > '9' || i >= 9 {
			return 0, errorf(http.StatusBadRequest, "web: %s %q: want an integer in [0, %d)", key, s, n)
		}
		v = v*10 + int(c-'0')
	}
	if s == "" || v >= n {
		return 0, errorf(http.StatusBadRequest, "web: %s %q: want an integer in [0, %d)", key, s, n)
	}
	return v, nil
}
