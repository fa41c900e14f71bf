package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/figures"
)

// figure serves GET /api/cnn/models/{name}/figures/{figure}.{png|svg}:
//
//	features     the channels at ?point= for ?image= under ?ablate=&mode=
//	attribution  saliency and integrated gradients for ?image=&class=&steps=&baseline=
//	batchnorm    batch against running ?stat=mean|var of ?layer= on the samples (?train=1)
//	maximize     the image that maximises ?unit= at ?point= (?steps=&seed=&tv=), the page's regularised setup
//
// with ?image=sample:N or test:N and ?ablate=POINT:U,U;POINT:U as in the
// JSON requests.
func (a *cnnAPI) figure(w http.ResponseWriter, r *http.Request) error {
	m := cnnModelFrom(r)
	return serveFigure(w, r, "cnn-"+m.name, func(name string, q url.Values) (*figures.Figure, error) {
		build, ok := map[string]func(context.Context, *cnnModel, url.Values) (*figures.Figure, error){
			"features": a.featuresFigure, "attribution": a.attributionFigure,
			"batchnorm": a.batchNormFigure, "maximize": a.maximizeFigure,
		}[name]
		if !ok {
			return nil, errorf(http.StatusNotFound, "web: no CNN figure %q (want features, attribution, batchnorm or maximize)", name)
		}
		return build(r.Context(), m, q)
	})
}

// imageQuery parses ?image=sample:N or test:N.
func imageQuery(q url.Values) (cnnImage, error) {
	s := q.Get("image")
	kind, num, ok := strings.Cut(s, ":")
	i, err := strconv.Atoi(num)
	if !ok || err != nil || (kind != "sample" && kind != "test") {
		return cnnImage{}, errorf(http.StatusBadRequest, "web: image=%q: want sample:N or test:N", s)
	}
	if kind == "sample" {
		return cnnImage{Sample: &i}, nil
	}
	return cnnImage{Test: &i}, nil
}

// imageEditQuery parses ?image= and the edit of a figure's query.
func imageEditQuery(q url.Values) (cnnImage, cnnEdit, error) {
	img, err := imageQuery(q)
	if err != nil {
		return img, cnnEdit{}, err
	}
	e, err := editQuery(q)
	return img, e, err
}

// editQuery parses ?ablate=POINT:U,U;POINT:U and ?mode=.
func editQuery(q url.Values) (cnnEdit, error) {
	e := cnnEdit{Mode: q.Get("mode")}
	s := q.Get("ablate")
	if s == "" {
		return e, nil
	}
	e.Ablate = map[string][]int{}
	for _, part := range strings.Split(s, ";") {
		point, units, ok := strings.Cut(part, ":")
		if !ok {
			return e, errorf(http.StatusBadRequest, "web: ablate=%q: want POINT:U,U;POINT:U", s)
		}
		for _, u := range strings.Split(units, ",") {
			v, err := strconv.Atoi(u)
			if err != nil {
				return e, errorf(http.StatusBadRequest, "web: ablate=%q: %q is not a unit number", s, u)
			}
			e.Ablate[point] = append(e.Ablate[point], v)
		}
	}
	return e, nil
}

func (a *cnnAPI) featuresFigure(ctx context.Context, m *cnnModel, q url.Values) (*figures.Figure, error) {
	img, e, err := imageEditQuery(q)
	if err != nil {
		return nil, err
	}
	point := q.Get("point")
	if point == "" {
		return nil, errorf(http.StatusBadRequest, "web: features: ?point= is required")
	}
	res, err := a.run(ctx, m, cnnRunRequest{Image: img, Point: point, cnnEdit: e})
	if err != nil {
		return nil, err
	}
	fm := res.Point
	h, w := 1, 1
	if len(fm.Shape) == 3 {
		h, w = fm.Shape[1], fm.Shape[2]
	}
	ablated := map[int]bool{}
	for _, u := range e.Ablate[fm.Name] {
		ablated[u] = true
	}
	spec := figures.ImageGridSpec{Title: fmt.Sprintf("%s on %s: %s (p = %.3f)", fm.Name, res.Image.Source, res.Classes[res.Pred], res.Probs[res.Pred]),
		Height: h, Width: w, ColorMap: figures.Grey}
	if fm.Lo < 0 {
		spec.ColorMap = figures.Diverging
	}
	for ch, mp := range fm.Maps {
		spec.Images = append(spec.Images, mp)
		label := "c" + strconv.Itoa(ch)
		if ablated[ch] {
			label += " (ablated)"
		}
		spec.Labels = append(spec.Labels, label)
	}
	return figures.ImageGrid(spec)
}

func (a *cnnAPI) attributionFigure(ctx context.Context, m *cnnModel, q url.Values) (*figures.Figure, error) {
	img, e, err := imageEditQuery(q)
	if err != nil {
		return nil, err
	}
	req := cnnAttributionRequest{Image: img, Baseline: q.Get("baseline"), cnnEdit: e}
	if s := q.Get("class"); s != "" {
		c, err := intParam(q, "class", 0, 0, m.m.Cfg.NClasses-1)
		if err != nil {
			return nil, err
		}
		req.Class = &c
	}
	if req.Steps, err = intParam(q, "steps", 0, 1, maxCNNIGSteps); err != nil {
		return nil, err
	}
	res, err := a.attribution(ctx, m, req)
	if err != nil {
		return nil, err
	}
	return figures.ImageGrid(figures.ImageGridSpec{
		Title:  fmt.Sprintf("%s: saliency and integrated gradients (%d steps, Σ = %.3f, Δlogit = %.3f)", res.ClassName, res.Steps, res.IGSum, res.Logit-res.BaselineLogit),
		Images: [][]float32{res.Saliency, res.IG}, Channels: res.Shape[0], Height: res.Shape[1], Width: res.Shape[2],
		Labels: []string{"saliency ∂logit/∂x", "integrated gradients"}, ColorMap: figures.Diverging, PerImage: true,
	})
}

func (a *cnnAPI) batchNormFigure(ctx context.Context, m *cnnModel, q url.Values) (*figures.Figure, error) {
	res, err := a.batchNorm(ctx, m, cnnBatchNormRequest{Train: q.Get("train") == "1" || q.Get("train") == "true"})
	if err != nil {
		return nil, err
	}
	layer := q.Get("layer")
	stat := q.Get("stat")
	if stat == "" {
		stat = "mean"
	}
	if stat != "mean" && stat != "var" {
		return nil, errorf(http.StatusBadRequest, "web: stat=%q: want mean or var", stat)
	}
	for _, l := range res.Layers {
		if l.Layer != layer && layer != "" {
			continue
		}
		batch, running := l.BatchMean, l.RunningMean
		if stat == "var" {
			batch, running = l.BatchVar, l.RunningVar
		}
		spec := figures.BarsSpec{Title: fmt.Sprintf("%s: batch %s over %d samples against the running %s", l.Layer, stat, res.Images, stat),
			XLabel: "channel", YLabel: stat,
			Groups: []figures.BarGroup{{Name: "batch", Values: widen64(batch)}, {Name: "running", Values: widen64(running)}}}
		for ch := range batch {
			spec.Categories = append(spec.Categories, strconv.Itoa(ch))
		}
		return figures.Bars(spec)
	}
	return nil, errorf(http.StatusBadRequest, "web: layer=%q: not a BatchNorm layer of CNN %q", layer, m.name)
}

func (a *cnnAPI) maximizeFigure(ctx context.Context, m *cnnModel, q url.Values) (*figures.Figure, error) {
	req := cnnMaximizeRequest{Point: q.Get("point")}
	var err error
	if req.Unit, err = intParam(q, "unit", 0, 0, 1<<20); err != nil {
		return nil, err
	}
	if req.Steps, err = intParam(q, "steps", 0, 1, maxCNNMaxSteps); err != nil {
		return nil, err
	}
	seed, err := intParam(q, "seed", 1, 0, 1<<30)
	if err != nil {
		return nil, err
	}
	s64 := uint64(seed)
	req.Seed = &s64
	if s := q.Get("tv"); s != "" {
		tv, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "web: tv=%q: want a number", s)
		}
		req.TV = &tv
	}
	res, err := a.maximize(ctx, m, req)
	if err != nil {
		return nil, err
	}
	return figures.ImageGrid(figures.ImageGridSpec{
		Title:  fmt.Sprintf("%s unit %d: activation %.3f → %.3f", res.Point, res.Unit, res.Trace[0], res.Trace[len(res.Trace)-1]),
		Images: [][]float32{res.Image}, Channels: res.Shape[0], Height: res.Shape[1], Width: res.Shape[2],
		ColorMap: figures.Grey, Range: figures.Range{Min: 0, Max: 1},
	})
}

func widen64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
