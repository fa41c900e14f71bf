package web

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// Bounds of the CNN endpoints' inputs.
const (
	maxCNNEditPoints  = 64   // hook points edited in one request
	maxCNNBatch       = 1024 // images of a BatchNorm statistics batch
	maxCNNIGSteps     = 1024 // integrated-gradients steps
	maxCNNMaxSteps    = 2000 // activation-maximisation steps
	maxPixelMagnitude = 1e4  // |pixel| of an uploaded image
	maxCNNMaxLR       = 10   // activation-maximisation Adam step size
	maxCNNPenalty     = 100  // weight of the TV and L2 penalties
	maxCNNJitter      = 8    // pixels of jitter
	maxCNNDecay       = cnn.MaxMaximizeDecay
)

// checkFloat returns a 400 naming key and the bounds unless v is in
// [lo, hi] (NaN is not).
func checkFloat(key string, v, lo, hi float64) error {
	if !(v >= lo && v <= hi) {
		return errorf(http.StatusBadRequest, "web: %s=%g: want %g to %g", key, v, lo, hi)
	}
	return nil
}

// cnnAPI is /api/cnn: the CNN models, the embedded sample images, and per
// model feature maps under unit ablations, attributions, BatchNorm
// statistics and activation maximisation.
type cnnAPI struct {
	store *cnnStore
	log   *slog.Logger
}

// Routes returns the /api/cnn router.
func (a *cnnAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Get("/samples", handle(a.log, a.samples))
	r.Get("/models", handle(a.log, a.list))
	r.Route("/models/{name}", func(r chi.Router) {
		r.Use(a.withModel)
		r.Get("/", handle(a.log, a.detail))
		r.Post("/run", handle(a.log, jsonEndpoint(a.run)))
		r.Post("/attribution", handle(a.log, jsonEndpoint(a.attribution)))
		r.Post("/batchnorm", handle(a.log, jsonEndpoint(a.batchNorm)))
		r.Post("/maximize", handle(a.log, jsonEndpoint(a.maximize)))
		r.Post("/gallery", handle(a.log, jsonEndpoint(a.gallery)))
		r.Post("/top", handle(a.log, jsonEndpoint(a.top)))
		r.Get("/figures/{figure}", handle(a.log, a.figure))
	})
	return r
}

type cnnModelKey struct{}

// withModel resolves {name} to a loaded CNN for the routes below it.
func (a *cnnAPI) withModel(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, err := urlParam(r, "name")
		if err == nil {
			var m *cnnModel
			if m, err = a.store.get(name); err == nil {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), cnnModelKey{}, m)))
				return
			}
		}
		handle(a.log, func(http.ResponseWriter, *http.Request) error { return err })(w, r)
	})
}

func cnnModelFrom(r *http.Request) *cnnModel { return r.Context().Value(cnnModelKey{}).(*cnnModel) }

// jsonEndpoint adapts a computation on a decoded request body of type Req
// to a handler that writes its result as JSON.
func jsonEndpoint[Req, Resp any](f func(ctx context.Context, m *cnnModel, req Req) (Resp, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req Req
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
		resp, err := f(r.Context(), cnnModelFrom(r), req)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, resp)
	}
}

func (a *cnnAPI) list(w http.ResponseWriter, r *http.Request) error {
	ms, err := a.store.list()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ms)
}

// sig4 is a float32 slice written as JSON numbers with four significant
// digits (feature maps and gradients span many magnitudes); NaN and
// infinities, which JSON cannot hold, become 0.
type sig4 []float32

// MarshalJSON implements json.Marshaler.
func (s sig4) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+8*len(s))
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || v == 0 {
			b = append(b, '0')
			continue
		}
		b = strconv.AppendFloat(b, float64(v), 'g', 4, 32)
	}
	return append(b, ']'), nil
}

func sig4From64(x []float64) sig4 {
	out := make(sig4, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// classNames returns the class labels of a model: Fashion-MNIST's for ten
// classes, else the class numbers.
func classNames(c cnn.Config) []string {
	out := make([]string, c.NClasses)
	for i := range out {
		if c.NClasses == data.FashionMNISTClasses {
			out[i] = data.FashionMNISTLabel(uint8(i))
		} else {
			out[i] = strconv.Itoa(i)
		}
	}
	return out
}

// cnnSamplesResponse is GET /api/cnn/samples.
type cnnSamplesResponse struct {
	Height        int          `json:"height"`
	Width         int          `json:"width"`
	Samples       []sampleInfo `json:"samples"`
	TestAvailable bool         `json:"test_available"`
}

type sampleInfo struct {
	TestIndex int    `json:"test_index"`
	Label     int    `json:"label"`
	LabelName string `json:"label_name"`
	Pixels    []int  `json:"pixels"` // [height·width] in 0..255
}

func (a *cnnAPI) samples(w http.ResponseWriter, r *http.Request) error {
	s := a.store.samples
	_, test := a.store.testPaths()
	resp := cnnSamplesResponse{Height: s.H, Width: s.W, TestAvailable: test}
	per := s.H * s.W
	for i, l := range s.Labels {
		px := make([]int, per)
		for j, v := range s.Images[i*per : (i+1)*per] {
			px[j] = int(math.Round(float64(v) * 255))
		}
		resp.Samples = append(resp.Samples, sampleInfo{TestIndex: s.Indices[i], Label: l, LabelName: data.FashionMNISTLabel(uint8(l)), Pixels: px})
	}
	return writeJSON(w, http.StatusOK, resp)
}

// cnnDetail is GET /api/cnn/models/{name}.
type cnnDetail struct {
	Name       string      `json:"name"`
	Source     string      `json:"source"`
	Config     cnn.Config  `json:"config"`
	Params     int         `json:"params"`
	Classes    []string    `json:"classes"`
	Points     []pointInfo `json:"points"`
	BatchNorm  []string    `json:"batchnorm"`   // BatchNorm layers, in forward order
	SamplesFit bool        `json:"samples_fit"` // the embedded samples fit its input
}

func (a *cnnAPI) detail(w http.ResponseWriter, r *http.Request) error {
	m := cnnModelFrom(r)
	c := m.m.Cfg
	d := cnnDetail{Name: m.name, Source: m.source, Config: c, Params: len(m.m.P.Data()), Classes: classNames(c),
		SamplesFit: a.samplesFit(m)}
	for _, p := range m.m.Points() {
		d.Points = append(d.Points, pointInfo{string(p.Name), p.Shape})
	}
	ws := m.m.NewWorkspace(1)
	for _, st := range ws.BatchNormStats() {
		d.BatchNorm = append(d.BatchNorm, st.Layer)
	}
	return writeJSON(w, http.StatusOK, d)
}

// pointInfo is a hook point and its per-example shape.
type pointInfo struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"` // [C, H, W], or [C] for the logits
}

func (a *cnnAPI) samplesFit(m *cnnModel) bool {
	c, s := m.m.Cfg, a.store.samples
	return c.InC == 1 && c.InH == s.H && c.InW == s.W
}

// cnnImage picks one input image: an embedded sample, a test-set image or
// pixels given in the request ([C, H, W] row-major).
type cnnImage struct {
	Sample *int      `json:"sample,omitempty"`
	Test   *int      `json:"test,omitempty"`
	Pixels []float32 `json:"pixels,omitempty"`
}

// imageInfo describes the image a request ran on.
type imageInfo struct {
	Source    string `json:"source"` // "sample 3 (test image 17)", "test image 17", "pixels"
	Label     int    `json:"label"`  // −1 when unknown
	LabelName string `json:"label_name,omitempty"`
	Pixels    sig4   `json:"pixels"`
}

// resolve returns the pixels of in for model m: 400 unless exactly one
// source is given and it fits, 404 for a test image without the data set.
func (a *cnnAPI) resolve(m *cnnModel, in cnnImage) ([]float32, imageInfo, error) {
	c := m.m.Cfg
	per := c.InC * c.InH * c.InW
	given := 0
	for _, ok := range []bool{in.Sample != nil, in.Test != nil, in.Pixels != nil} {
		if ok {
			given++
		}
	}
	if given != 1 {
		return nil, imageInfo{}, errorf(http.StatusBadRequest, `web: image: give exactly one of {"sample": i}, {"test": i} or {"pixels": [%d values]}`, per)
	}
	if in.Pixels != nil {
		if len(in.Pixels) != per {
			return nil, imageInfo{}, errorf(http.StatusBadRequest, "web: image: %d pixels, want %d×%d×%d = %d", len(in.Pixels), c.InC, c.InH, c.InW, per)
		}
		for i, v := range in.Pixels {
			if math.IsNaN(float64(v)) || math.Abs(float64(v)) > maxPixelMagnitude {
				return nil, imageInfo{}, errorf(http.StatusBadRequest, "web: image: pixel %d = %v is outside [−%g, %g]", i, v, maxPixelMagnitude, maxPixelMagnitude)
			}
		}
		return in.Pixels, imageInfo{Source: "pixels", Label: -1, Pixels: in.Pixels}, nil
	}
	if !a.samplesFit(m) {
		return nil, imageInfo{}, errorf(http.StatusBadRequest, "web: image: CNN %q takes %d×%d×%d images, not Fashion-MNIST's 1×28×28: give pixels", m.name, c.InC, c.InH, c.InW)
	}
	if in.Sample != nil {
		s, i := a.store.samples, *in.Sample
		if i < 0 || i >= len(s.Labels) {
			return nil, imageInfo{}, errorf(http.StatusBadRequest, "web: image: sample %d outside [0, %d)", i, len(s.Labels))
		}
		px := s.Images[i*per : (i+1)*per]
		return px, imageInfo{Source: fmt.Sprintf("sample %d (test image %d)", i, s.Indices[i]), Label: s.Labels[i], LabelName: data.FashionMNISTLabel(uint8(s.Labels[i])), Pixels: px}, nil
	}
	set, err := a.store.testSet()
	if err != nil {
		return nil, imageInfo{}, err
	}
	i := *in.Test
	if i < 0 || i >= set.N {
		return nil, imageInfo{}, errorf(http.StatusBadRequest, "web: image: test image %d outside [0, %d)", i, set.N)
	}
	l := int(set.Labels[i])
	return set.Image(i), imageInfo{Source: fmt.Sprintf("test image %d", i), Label: l, LabelName: data.FashionMNISTLabel(uint8(l)), Pixels: set.Image(i)}, nil
}

// cnnEdit is the unit ablation of a request: for each hook point, the
// channels to ablate, replaced by zero or by their mean over the embedded
// samples.
type cnnEdit struct {
	Ablate map[string][]int `json:"ablate,omitempty"`
	Mode   string           `json:"mode,omitempty"` // "zero" (default) or "mean"
}

// hooks returns e as forward hooks on m (nil when empty) built with the
// edit primitive, out = x·(1 − A) + R·A, A the chosen units' mask; a 400
// names an unknown point, a unit out of range or an unknown mode.
func (a *cnnAPI) hooks(ctx context.Context, m *cnnModel, e cnnEdit) (*hooks.Set, error) {
	if e.Mode != "" && e.Mode != "zero" && e.Mode != "mean" {
		return nil, errorf(http.StatusBadRequest, "web: ablation mode %q: want \"zero\" or \"mean\"", e.Mode)
	}
	if len(e.Ablate) > maxCNNEditPoints {
		return nil, errorf(http.StatusBadRequest, "web: %d ablated points, at most %d", len(e.Ablate), maxCNNEditPoints)
	}
	if len(e.Ablate) == 0 {
		return nil, nil
	}
	var means map[hooks.Name][]float32
	if e.Mode == "mean" {
		var err error
		if means, err = a.store.unitMeans(ctx, m); err != nil {
			return nil, err
		}
	}
	points := make([]string, 0, len(e.Ablate))
	for p := range e.Ablate {
		points = append(points, p)
	}
	sort.Strings(points)
	hs := hooks.NewSet()
	for _, p := range points {
		name, err := m.m.ParseHook(p)
		if err != nil {
			return nil, badRequest(err)
		}
		shape, _ := m.m.PointShape(name)
		r := cnn.Zero()
		if means != nil {
			r = cnn.Mean(means[name])
		}
		f, err := unitEdit(p, shape, e.Ablate[p], r)
		if err != nil {
			return nil, err
		}
		hs.Add(name, f)
	}
	return hs, nil
}

// unitEdit returns the edit that replaces the given units (channels) of
// the activation at point p, of per-example shape [C, ...], by r: a 400
// for a unit out of range.
func unitEdit(p string, shape, units []int, r cnn.Replacement) (hooks.Func, error) {
	for _, u := range units {
		if u < 0 || u >= shape[0] {
			return nil, errorf(http.StatusBadRequest, "web: ablate %s: unit %d outside [0, %d)", p, u, shape[0])
		}
	}
	f, err := cnn.NewEdit(shape, cnn.Edit{A: cnn.UnitMask(shape[0], units...), R: r})
	if err != nil {
		return nil, badRequest(err)
	}
	return f, nil
}

// cnnRunRequest is POST /api/cnn/models/{name}/run.
type cnnRunRequest struct {
	Image cnnImage `json:"image"`
	// Point, if set, asks for the feature maps at that hook point (after
	// the edits).
	Point string `json:"point,omitempty"`
	cnnEdit
}

// cnnRunResponse is the prediction with and without the edits, and the
// feature maps at the requested point.
type cnnRunResponse struct {
	Image      imageInfo    `json:"image"`
	Classes    []string     `json:"classes"`
	Logits     sig4         `json:"logits"`
	Probs      sig4         `json:"probs"`
	Pred       int          `json:"pred"`
	CleanProbs sig4         `json:"clean_probs"` // without the edits
	CleanPred  int          `json:"clean_pred"`
	Edited     bool         `json:"edited"`
	Point      *featureMaps `json:"point,omitempty"`
}

// featureMaps are one example's activations at a hook point, per channel.
type featureMaps struct {
	Name  string    `json:"name"`
	Shape []int     `json:"shape"` // [C, H, W], or [C] for the logits
	Maps  []sig4    `json:"maps"`  // [C][H·W]
	Lo    float64   `json:"lo"`    // the smallest value over all channels
	Hi    float64   `json:"hi"`    // the largest
	Means []float64 `json:"means"` // per channel, over its pixels
}

func (a *cnnAPI) run(ctx context.Context, m *cnnModel, req cnnRunRequest) (*cnnRunResponse, error) {
	px, info, err := a.resolve(m, req.Image)
	if err != nil {
		return nil, err
	}
	edits, err := a.hooks(ctx, m, req.cnnEdit)
	if err != nil {
		return nil, err
	}
	var point hooks.Name
	if req.Point != "" {
		if point, err = m.m.ParseHook(req.Point); err != nil {
			return nil, badRequest(err)
		}
	}
	c := m.m.Cfg
	x := tensor.FromSlice(px, 1, c.InC, c.InH, c.InW)
	clean, err := m.m.Run(ctx, x, nil)
	if err != nil {
		return nil, inputErr(ctx, err)
	}
	capture, cache := hooks.Capture(hooks.Names(point))
	logits := clean
	if edits != nil || point != "" {
		if logits, err = m.m.Run(ctx, x, hooks.Merge(edits, capture)); err != nil {
			return nil, inputErr(ctx, err)
		}
	}
	resp := &cnnRunResponse{Image: info, Classes: classNames(c), Logits: logits.Data, Edited: edits != nil}
	resp.Probs, resp.Pred = softmax(logits.Data)
	resp.CleanProbs, resp.CleanPred = softmax(clean.Data)
	if point != "" {
		t, _ := cache.Get(point)
		shape, _ := m.m.PointShape(point)
		resp.Point = mapsOf(point, shape, t.Data)
	}
	return resp, nil
}

// mapsOf cuts one example's activation [C, ...] into channels.
func mapsOf(name hooks.Name, shape []int, act []float32) *featureMaps {
	fm := &featureMaps{Name: string(name), Shape: shape, Lo: math.Inf(1), Hi: math.Inf(-1)}
	p := len(act) / shape[0]
	for ch := range shape[0] {
		v := act[ch*p : (ch+1)*p]
		var s float64
		for _, x := range v {
			s += float64(x)
			fm.Lo, fm.Hi = min(fm.Lo, float64(x)), max(fm.Hi, float64(x))
		}
		fm.Maps = append(fm.Maps, v)
		fm.Means = append(fm.Means, s/float64(p))
	}
	return fm
}

// softmax returns the probabilities of one row of logits, computed in
// float64, and the most probable class.
func softmax(logits []float32) (sig4, int) {
	best := 0
	for j, v := range logits {
		if v > logits[best] {
			best = j
		}
	}
	mx := float64(logits[best])
	p := make([]float64, len(logits))
	var z float64
	for j, v := range logits {
		p[j] = math.Exp(float64(v) - mx)
		z += p[j]
	}
	for j := range p {
		p[j] /= z
	}
	return sig4From64(p), best
}

// cnnAttributionRequest is POST /api/cnn/models/{name}/attribution.
type cnnAttributionRequest struct {
	Image cnnImage `json:"image"`
	// Class is the logit attributed; absent: the predicted class (under
	// the edits).
	Class *int `json:"class,omitempty"`
	// Steps of the integrated-gradients Riemann sum, 1 to 1024 (0: 64).
	Steps int `json:"steps,omitempty"`
	// Baseline is "black" (all zeros, the default) or "mean" (the mean of
	// the embedded samples).
	Baseline string `json:"baseline,omitempty"`
	cnnEdit
}

// cnnAttributionResponse holds the saliency map and the integrated
// gradients of one class's logit, each [C·H·W], and the completeness check.
type cnnAttributionResponse struct {
	Shape             []int   `json:"shape"`
	Class             int     `json:"class"`
	ClassName         string  `json:"class_name"`
	Logit             float64 `json:"logit"`
	BaselineLogit     float64 `json:"baseline_logit"`
	Saliency          sig4    `json:"saliency"`
	IG                sig4    `json:"ig"`
	IGSum             float64 `json:"ig_sum"`
	CompletenessError float64 `json:"completeness_error"` // |Σ IG − (logit − baseline_logit)|
	Steps             int     `json:"steps"`
	Baseline          string  `json:"baseline"`
}

func (a *cnnAPI) attribution(ctx context.Context, m *cnnModel, req cnnAttributionRequest) (*cnnAttributionResponse, error) {
	px, _, err := a.resolve(m, req.Image)
	if err != nil {
		return nil, err
	}
	edits, err := a.hooks(ctx, m, req.cnnEdit)
	if err != nil {
		return nil, err
	}
	if req.Steps < 0 || req.Steps > maxCNNIGSteps {
		return nil, errorf(http.StatusBadRequest, "web: steps %d: want 1 to %d (0: 64)", req.Steps, maxCNNIGSteps)
	}
	c := m.m.Cfg
	var class int
	if req.Class != nil {
		class = *req.Class
	} else {
		logits, err := m.m.Run(ctx, tensor.FromSlice(px, 1, c.InC, c.InH, c.InW), edits)
		if err != nil {
			return nil, inputErr(ctx, err)
		}
		_, class = softmax(logits.Data)
	}
	o := cnn.IGOptions{Steps: req.Steps}
	switch req.Baseline {
	case "", "black":
		req.Baseline = "black"
	case "mean":
		if !a.samplesFit(m) {
			return nil, errorf(http.StatusBadRequest, "web: baseline \"mean\" is the mean sample, which does not fit CNN %q", m.name)
		}
		o.Baseline = a.store.samples.mean()
	default:
		return nil, errorf(http.StatusBadRequest, "web: baseline %q: want \"black\" or \"mean\"", req.Baseline)
	}
	sal, _, err := m.m.Saliency(ctx, px, class, edits)
	if err != nil {
		return nil, inputErr(ctx, err)
	}
	ig, err := m.m.IntegratedGradients(ctx, px, class, o, edits)
	if err != nil {
		return nil, inputErr(ctx, err)
	}
	return &cnnAttributionResponse{
		Shape: []int{c.InC, c.InH, c.InW}, Class: class, ClassName: classNames(c)[class],
		Logit: ig.Logit, BaselineLogit: ig.BaselineLogit, Saliency: sal, IG: ig.Map, IGSum: ig.Sum,
		CompletenessError: ig.CompletenessError(), Steps: ig.Steps, Baseline: req.Baseline,
	}, nil
}

// mean returns the mean sample image.
func (s *cnnSamples) mean() []float32 {
	per := s.H * s.W
	n := len(s.Labels)
	sum := make([]float64, per)
	for i := range n {
		for j, v := range s.Images[i*per : (i+1)*per] {
			sum[j] += float64(v)
		}
	}
	out := make([]float32, per)
	for j, v := range sum {
		out[j] = float32(v / float64(n))
	}
	return out
}

// cnnBatchNormRequest is POST /api/cnn/models/{name}/batchnorm: the batch
// is the embedded samples listed (all of them when neither list is given)
// or test-set images.
type cnnBatchNormRequest struct {
	Samples []int `json:"samples,omitempty"`
	Test    []int `json:"test,omitempty"`
	// Train runs the batch in training mode (BatchNorm normalises with the
	// batch statistics); otherwise in evaluation, with the running ones.
	Train bool `json:"train,omitempty"`
	cnnEdit
}

type cnnBatchNormResponse struct {
	Images int         `json:"images"`
	Train  bool        `json:"train"`
	Layers []bnStatDTO `json:"layers"`
}

type bnStatDTO struct {
	Layer       string `json:"layer"`
	Input       string `json:"input"`
	BatchMean   sig4   `json:"batch_mean"`
	BatchVar    sig4   `json:"batch_var"`
	RunningMean sig4   `json:"running_mean"`
	RunningVar  sig4   `json:"running_var"`
	Gamma       sig4   `json:"gamma"`
	Beta        sig4   `json:"beta"`
	NormMean    sig4   `json:"norm_mean"`
	NormVar     sig4   `json:"norm_var"`
}

func (a *cnnAPI) batchNorm(ctx context.Context, m *cnnModel, req cnnBatchNormRequest) (*cnnBatchNormResponse, error) {
	if len(req.Samples) > 0 && len(req.Test) > 0 {
		return nil, errorf(http.StatusBadRequest, "web: batchnorm: give samples or test images, not both")
	}
	if len(req.Samples)+len(req.Test) > maxCNNBatch {
		return nil, errorf(http.StatusBadRequest, "web: batchnorm: %d images, at most %d", len(req.Samples)+len(req.Test), maxCNNBatch)
	}
	if len(req.Samples) == 0 && len(req.Test) == 0 {
		for i := range a.store.samples.Labels {
			req.Samples = append(req.Samples, i)
		}
	}
	var batch []float32
	for _, i := range req.Samples {
		px, _, err := a.resolve(m, cnnImage{Sample: &i})
		if err != nil {
			return nil, err
		}
		batch = append(batch, px...)
	}
	for _, i := range req.Test {
		px, _, err := a.resolve(m, cnnImage{Test: &i})
		if err != nil {
			return nil, err
		}
		batch = append(batch, px...)
	}
	edits, err := a.hooks(ctx, m, req.cnnEdit)
	if err != nil {
		return nil, err
	}
	c := m.m.Cfg
	n := len(req.Samples) + len(req.Test)
	pass := cnn.Pass{Train: req.Train}
	if req.Train {
		pass.RNG = rand.New(rand.NewPCG(1, 1)) // dropout, if any
	}
	stats, err := m.m.BatchNormStats(ctx, tensor.FromSlice(batch, n, c.InC, c.InH, c.InW), pass, edits)
	if err != nil {
		return nil, inputErr(ctx, err)
	}
	resp := &cnnBatchNormResponse{Images: n, Train: req.Train}
	for _, s := range stats {
		resp.Layers = append(resp.Layers, bnStatDTO{Layer: s.Layer, Input: string(s.Input),
			BatchMean: sig4From64(s.BatchMean), BatchVar: sig4From64(s.BatchVar),
			RunningMean: sig4From64(s.RunningMean), RunningVar: sig4From64(s.RunningVar),
			Gamma: sig4From64(s.Gamma), Beta: sig4From64(s.Beta),
			NormMean: sig4From64(s.NormMean), NormVar: sig4From64(s.NormVar)})
	}
	return resp, nil
}

// cnnMaximizeRequest is POST /api/cnn/models/{name}/maximize: the options
// of cnn.MaximizeUnit, absent ones taking the page's regularised setup
// (pageVisOptions).
type cnnMaximizeRequest struct {
	Point  string   `json:"point"`
	Unit   int      `json:"unit"`
	Steps  int      `json:"steps,omitempty"`  // 0: 128, at most 2000
	LR     float64  `json:"lr,omitempty"`     // 0: 0.1
	Param  string   `json:"param,omitempty"`  // "fourier" (default) or "pixel"
	Decay  *float64 `json:"decay,omitempty"`  // Fourier's 1/f^decay, absent: 1.5
	Jitter *int     `json:"jitter,omitempty"` // absent: 2
	Scale  *float64 `json:"scale,omitempty"`  // absent: 0.1
	Rotate *float64 `json:"rotate,omitempty"` // degrees, absent: 10
	TV     *float64 `json:"tv,omitempty"`     // absent: 0
	L2     *float64 `json:"l2,omitempty"`     // absent: 0
	Seed   *uint64  `json:"seed,omitempty"`   // absent: 1
	cnnEdit
}

type cnnMaximizeResponse struct {
	Point     string       `json:"point"`
	Unit      int          `json:"unit"`
	Shape     []int        `json:"shape"` // of the image, [C, H, W]
	Image     sig4         `json:"image"`
	Start     sig4         `json:"start"` // the random starting image
	Trace     finiteFloats `json:"trace"`
	Objective finiteFloats `json:"objective"`
	Setup     string       `json:"setup"`
}

// finiteFloats is a float64 slice written as JSON numbers, with null for
// NaN and infinities, which JSON cannot hold (a chart leaves a gap).
type finiteFloats []float64

func (x finiteFloats) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for i, v := range x {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		}
	}
	return append(b, ']'), nil
}

func (a *cnnAPI) maximize(ctx context.Context, m *cnnModel, req cnnMaximizeRequest) (*cnnMaximizeResponse, error) {
	point, err := m.m.ParseHook(req.Point)
	if err != nil {
		return nil, badRequest(err)
	}
	if req.Steps < 0 || req.Steps > maxCNNMaxSteps {
		return nil, errorf(http.StatusBadRequest, "web: steps %d: want 1 to %d (0: 200)", req.Steps, maxCNNMaxSteps)
	}
	edits, err := a.hooks(ctx, m, req.cnnEdit)
	if err != nil {
		return nil, err
	}
	o := pageVisOptions()
	if req.Steps != 0 {
		o.Steps = req.Steps
	}
	if req.LR != 0 {
		o.LR = req.LR
	}
	switch req.Param {
	case "", "fourier":
	case "pixel":
		o.Param, o.Decay = cnn.PixelParam, 0
	default:
		return nil, errorf(http.StatusBadRequest, "web: param %q: want \"fourier\" or \"pixel\"", req.Param)
	}
	if req.Decay != nil {
		if o.Param == cnn.PixelParam {
			return nil, errorf(http.StatusBadRequest, "web: decay applies to param \"fourier\" only")
		}
		if err := checkFloat("decay", *req.Decay, 0.01, maxCNNDecay); err != nil {
			return nil, err
		}
		o.Decay = *req.Decay
	}
	for _, f := range []struct {
		dst *float64
		src *float64
	}{{&o.Scale, req.Scale}, {&o.Rotate, req.Rotate}, {&o.TV, req.TV}, {&o.L2, req.L2}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if req.Jitter != nil {
		o.Jitter = *req.Jitter
	}
	if req.Seed != nil {
		o.Seed = *req.Seed
	}
	for _, err := range []error{
		checkFloat("lr", o.LR, 0, maxCNNMaxLR), checkFloat("tv", o.TV, 0, maxCNNPenalty), checkFloat("l2", o.L2, 0, maxCNNPenalty),
		checkFloat("jitter", float64(o.Jitter), 0, maxCNNJitter),
		checkFloat("scale", o.Scale, 0, cnn.MaxMaximizeScale-0.01), checkFloat("rotate", o.Rotate, 0, cnn.MaxMaximizeRotate),
	} {
		if err != nil {
			return nil, err
		}
	}
	r, err := m.m.MaximizeUnit(ctx, point, req.Unit, o, edits)
	if err != nil {
		return nil, inputErr(ctx, err)
	}
	c := m.m.Cfg
	return &cnnMaximizeResponse{Point: string(point), Unit: req.Unit, Shape: []int{c.InC, c.InH, c.InW},
		Image: r.Image, Start: r.Start, Trace: roundAll(r.Trace), Objective: roundAll(r.Objective), Setup: visSetup(o)}, nil
}

// roundAll rounds to six significant digits, enough for a chart.
func roundAll(x []float64) []float64 {
	out := slices.Clone(x)
	for i, v := range out {
		if v != 0 && !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[i], _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
		}
	}
	return out
}
