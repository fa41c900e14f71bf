package web

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/transformer"
)

// modelsAPI is /api/models: the model list, one model's config and
// tensors, and, mounted under each model, the analyses of it.
type modelsAPI struct {
	store *store
	log   *slog.Logger
}

// Routes returns the /api/models router.
func (a *modelsAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", handle(a.log, a.list))
	r.Route("/{name}", func(r chi.Router) {
		r.Use(a.withModel)
		r.Get("/", handle(a.log, a.detail))
		r.Get("/tensors/{tensor}", handle(a.log, a.tensor))
		r.Mount("/tokens", (&tokensAPI{a.log}).Routes())
		r.Mount("/attention", (&attentionAPI{a.log}).Routes())
		r.Mount("/circuits", (&circuitsAPI{a.log}).Routes())
		r.Mount("/lens", (&lensAPI{a.log}).Routes())
		r.Mount("/patching", (&patchingAPI{a.log}).Routes())
		r.Mount("/discover", (&discoverAPI{a.log}).Routes())
		r.Mount("/figures", (&figuresAPI{a.log}).Routes())
	})
	return r
}

type modelKey struct{}

// withModel resolves {name} to a loaded model for the routes below it.
func (a *modelsAPI) withModel(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, err := urlParam(r, "name")
		if err == nil {
			var m *model
			if m, err = a.store.get(name); err == nil {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), modelKey{}, m)))
				return
			}
		}
		handle(a.log, func(http.ResponseWriter, *http.Request) error { return err })(w, r)
	})
}

// modelFrom returns the model withModel resolved.
func modelFrom(r *http.Request) *model { return r.Context().Value(modelKey{}).(*model) }

// urlParam returns a path parameter, unescaped (chi routes on the escaped
// path, so "%2F" arrives as such).
func urlParam(r *http.Request, key string) (string, error) {
	v, err := url.PathUnescape(chi.URLParam(r, key))
	if err != nil {
		return "", errorf(http.StatusBadRequest, "web: bad escape in %s: %v", key, err)
	}
	return v, nil
}

// list answers GET /api/models; ?with=NAME adds the run checkpoint NAME
// (which the list leaves out) when it loads, so that a page opened on a
// checkpoint shows it in the picker. A with= that names nothing loadable
// is left out: the picker then falls back to the demo.
func (a *modelsAPI) list(w http.ResponseWriter, r *http.Request) error {
	ms, err := a.store.list()
	if err != nil {
		return err
	}
	if with := r.URL.Query().Get("with"); with != "" && !slices.ContainsFunc(ms, func(m modelSummary) bool { return m.Name == with }) {
		if _, _, ok := parseCheckpointName(with); ok {
			if m, err := a.store.get(with); err == nil {
				ms = append(ms, m.summary())
			}
		}
	}
	return writeJSON(w, http.StatusOK, ms)
}

// tensorInfo describes one parameter tensor.
type tensorInfo struct {
	Name  string  `json:"name"`
	Shape []int   `json:"shape"`
	DType string  `json:"dtype"`
	Numel int     `json:"numel"`
	Mean  float64 `json:"mean"`
	Std   float64 `json:"std"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Norm  float64 `json:"norm"`
}

// modelDetail is GET /api/models/{name}.
type modelDetail struct {
	Name       string             `json:"name"`
	Source     string             `json:"source"`
	Config     transformer.Config `json:"config"`
	Params     int                `json:"params"`
	HookPoints []hooks.Name       `json:"hook_points"`
	Tensors    []tensorInfo       `json:"tensors"`
	HeadLabels []string           `json:"head_labels"`
}

func (a *modelsAPI) detail(w http.ResponseWriter, r *http.Request) error {
	m := modelFrom(r)
	c := m.m.Cfg
	d := modelDetail{Name: m.name, Source: m.source, Config: c, Params: c.NumParams(), HookPoints: m.m.HookPoints(), HeadLabels: headLabels(c)}
	for _, t := range m.m.StateDict() {
		d.Tensors = append(d.Tensors, describeTensor(t.Name, t.Shape, t.Data))
	}
	return writeJSON(w, http.StatusOK, d)
}

func describeTensor(name string, shape []int, x []float32) tensorInfo {
	ti := tensorInfo{Name: name, Shape: shape, DType: "F32", Numel: len(x)}
	if len(x) == 0 {
		return ti
	}
	ti.Min, ti.Max = math.Inf(1), math.Inf(-1)
	var sum, sq float64
	for _, v := range x {
		f := float64(v)
		sum += f
		sq += f * f
		ti.Min, ti.Max = min(ti.Min, f), max(ti.Max, f)
	}
	n := float64(len(x))
	ti.Mean = sum / n
	ti.Std = math.Sqrt(max(sq/n-ti.Mean*ti.Mean, 0))
	ti.Norm = math.Sqrt(sq)
	return ti
}

// maxTensorValues bounds the tensors GET .../tensors/{tensor} returns.
const maxTensorValues = 1 << 20

func (a *modelsAPI) tensor(w http.ResponseWriter, r *http.Request) error {
	m := modelFrom(r)
	name, err := urlParam(r, "tensor")
	if err != nil {
		return err
	}
	for _, t := range m.m.StateDict() {
		if t.Name != name {
			continue
		}
		if len(t.Data) > maxTensorValues {
			return errorf(http.StatusUnprocessableEntity, "web: tensor %q has %d values, more than the %d this endpoint returns", name, len(t.Data), maxTensorValues)
		}
		return writeJSON(w, http.StatusOK, struct {
			tensorInfo
			Data []float32 `json:"data"`
		}{describeTensor(t.Name, t.Shape, t.Data), t.Data})
	}
	return errorf(http.StatusNotFound, "web: model %q has no tensor %q (GET /api/models/%s lists them)", m.name, name, m.name)
}

// headLabels returns L{l}H{h} for every head, layer-major.
func headLabels(c transformer.Config) []string {
	out := make([]string, 0, c.NLayers*c.NHeads)
	for l := range c.NLayers {
		for h := range c.NHeads {
			out = append(out, "L"+strconv.Itoa(l)+"H"+strconv.Itoa(h))
		}
	}
	return out
}

// tokensFromQuery reads ?tokens=1,2,3, ?text=1 2 3 or ?prompt=TEXT (with
// ?bos=): one of them.
func tokensFromQuery(q url.Values) (tokensInput, error) {
	n := 0
	for _, k := range []string{"tokens", "text", "prompt"} {
		if q.Has(k) {
			n++
		}
	}
	if n > 1 {
		return tokensInput{}, errorf(http.StatusBadRequest, "web: give one of ?tokens=, ?text= and ?prompt=, not both")
	}
	if q.Has("prompt") {
		return tokensInput{Prompt: q.Get("prompt"), BOS: q.Get("bos")}, nil
	}
	return tokensInput{Text: strings.TrimSpace(q.Get("tokens") + q.Get("text"))}, nil
}

// intParam parses an optional integer query parameter within [lo, hi].
func intParam(q url.Values, key string, def, lo, hi int) (int, error) {
	s := q.Get(key)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, errorf(http.StatusBadRequest, "web: %s=%q: want an integer in [%d, %d]", key, s, lo, hi)
	}
	return v, nil
}
