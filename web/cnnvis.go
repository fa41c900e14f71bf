package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"sync"

	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// Bounds of the unit gallery and the top-activating examples.
const (
	cnnGalleryUnits = 64  // units per gallery page: one batched optimisation
	maxCNNTopK      = 32  // examples per unit
	cnnScanBatch    = 250 // images per forward pass when ranking a data set
)

// pageVisOptions is the regularised activation-maximisation setup of the
// page and its gallery: a 1/f^1.5 Fourier parameterisation, ±2 pixels of
// jitter, ±10 % scale, ±10° rotation, normalised gradients, 128 Adam
// steps of 0.1 (cnn.TestMaximizeDemoUnitsRise checks that most of the demo's
// units rise substantially under it, at half the steps).
func pageVisOptions() cnn.MaximizeOptions {
	return cnn.MaximizeOptions{Param: cnn.FourierParam, Decay: 1.5, Steps: 128, LR: 0.1,
		Jitter: 2, Scale: 0.1, Rotate: 10, Seed: 1}
}

// keyedMemo holds one memo per key; see memo.
type keyedMemo[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]*memo[V]
}

func (k *keyedMemo[K, V]) get(key K, f func() (V, error)) (V, error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[K]*memo[V]{}
	}
	e, ok := k.m[key]
	if !ok {
		e = &memo[V]{}
		k.m[key] = e
	}
	k.mu.Unlock()
	return e.get(f)
}

// galleryKey names one cached gallery page.
type galleryKey struct {
	point hooks.Name
	from  int
}

// unitRanking is, for every unit of one hook point, the data set's images
// ordered by the unit's mean activation, best first (the first maxCNNTopK).
type unitRanking struct {
	dataset string
	n       int
	top     [][]int     // [unit][k] image indices
	acts    [][]float64 // [unit][k] mean activations
}

// cnnGalleryRequest is POST /api/cnn/models/{name}/gallery.
type cnnGalleryRequest struct {
	Point string `json:"point"`
	From  int    `json:"from,omitempty"` // the first unit; a page holds 64
}

type cnnGalleryResponse struct {
	Point   string        `json:"point"`
	Units   int           `json:"units"` // of the point
	From    int           `json:"from"`
	Shape   []int         `json:"shape"` // of an image, [C, H, W]
	Setup   string        `json:"setup"`
	Entries []galleryUnit `json:"entries"`
}

type galleryUnit struct {
	Unit  int     `json:"unit"`
	Image sig4    `json:"image"`
	Start float64 `json:"start"` // the activation on the random start
	Final float64 `json:"final"` // on the final image
}

// gallery visualises up to 64 units of a point with the page's setup, as
// one batch, cached per model, point and page (no ablations: a gallery
// describes the model).
func (a *cnnAPI) gallery(ctx context.Context, m *cnnModel, req cnnGalleryRequest) (*cnnGalleryResponse, error) {
	point, shape, err := visPoint(m, req.Point)
	if err != nil {
		return nil, err
	}
	if req.From < 0 || req.From >= shape[0] {
		return nil, errorf(http.StatusBadRequest, "web: gallery: from %d outside [0, %d)", req.From, shape[0])
	}
	units := make([]int, 0, cnnGalleryUnits)
	for u := req.From; u < min(shape[0], req.From+cnnGalleryUnits); u++ {
		units = append(units, u)
	}
	o := pageVisOptions()
	rs, err := m.gallery.get(galleryKey{point, req.From}, func() ([]*cnn.Maximized, error) {
		return m.m.MaximizeUnits(ctx, point, units, o, nil)
	})
	if err != nil {
		return nil, inputErr(ctx, err)
	}
	c := m.m.Cfg
	resp := &cnnGalleryResponse{Point: string(point), Units: shape[0], From: req.From, Shape: []int{c.InC, c.InH, c.InW}, Setup: visSetup(o)}
	for _, r := range rs {
		resp.Entries = append(resp.Entries, galleryUnit{Unit: r.Unit, Image: r.Image, Start: round4(r.Trace[0]), Final: round4(r.Trace[len(r.Trace)-1])})
	}
	return resp, nil
}

// visSetup describes o for the page.
func visSetup(o cnn.MaximizeOptions) string {
	return fmt.Sprintf("%s parameterisation (decay %g), %d Adam steps of %g, jitter ±%d px, scale ±%g%%, rotation ±%g°, TV %g, L2 %g, normalised gradients, seed %d",
		o.Param, o.Decay, o.Steps, o.LR, o.Jitter, 100*o.Scale, o.Rotate, o.TV, o.L2, o.Seed)
}

// visPoint parses a unit-bearing hook point: a 400 for an unknown one, a
// gradient, the input or the logits' absence of channels never happens.
func visPoint(m *cnnModel, p string) (hooks.Name, []int, error) {
	point, err := m.m.ParseHook(p)
	if err != nil {
		return "", nil, badRequest(err)
	}
	if point == cnn.InputPoint || point.IsGrad() {
		return "", nil, errorf(http.StatusBadRequest, "web: %q has no units to visualise: pick a layer's output", p)
	}
	shape, _ := m.m.PointShape(point)
	return point, shape, nil
}

// cnnTopRequest is POST /api/cnn/models/{name}/top.
type cnnTopRequest struct {
	Point string `json:"point"`
	Unit  int    `json:"unit"`
	K     int    `json:"k,omitempty"` // 1 to 32 (0: 9)
}

type cnnTopResponse struct {
	Point    string       `json:"point"`
	Unit     int          `json:"unit"`
	Dataset  string       `json:"dataset"`
	Images   int          `json:"images"`    // in the data set ranked
	MapShape []int        `json:"map_shape"` // [H, W] of an activation map ([1, 1] for the logits)
	Lo       float64      `json:"lo"`        // over the maps shown
	Hi       float64      `json:"hi"`
	Examples []topExample `json:"examples"`
}

type topExample struct {
	Source     string  `json:"source"` // "test image 17", "sample 3 (test image 17)"
	Label      int     `json:"label"`
	LabelName  string  `json:"label_name"`
	Activation float64 `json:"activation"` // the unit's mean over its map
	Pixels     sig4    `json:"pixels"`
	Map        sig4    `json:"map"` // the unit's activation map
}

// top returns the images of the data set — the Fashion-MNIST test set when
// installed, else the embedded samples — that excite a unit most, by mean
// activation in evaluation mode, with the unit's activation maps. The
// ranking of every unit of a point is computed in one pass and cached.
func (a *cnnAPI) top(ctx context.Context, m *cnnModel, req cnnTopRequest) (*cnnTopResponse, error) {
	point, shape, err := visPoint(m, req.Point)
	if err != nil {
		return nil, err
	}
	if req.Unit < 0 || req.Unit >= shape[0] {
		return nil, errorf(http.StatusBadRequest, "web: top: unit %d outside [0, %d) of %s", req.Unit, shape[0], point)
	}
	if req.K < 0 || req.K > maxCNNTopK {
		return nil, errorf(http.StatusBadRequest, "web: top: k %d: want 1 to %d (0: 9)", req.K, maxCNNTopK)
	}
	if req.K == 0 {
		req.K = 9
	}
	if !a.samplesFit(m) {
		return nil, errorf(http.StatusBadRequest, "web: top: CNN %q does not take Fashion-MNIST's 1×28×28 images", m.name)
	}
	images, labels, source, dataset := a.visDataset()
	rk, err := m.ranking.get(point, func() (*unitRanking, error) {
		return rank(ctx, m, point, images, len(labels), dataset)
	})
	if err != nil {
		return nil, inputErr(ctx, err)
	}
	idx := rk.top[req.Unit][:min(req.K, len(rk.top[req.Unit]))]
	c := m.m.Cfg
	per := c.InC * c.InH * c.InW
	batch := make([]float32, 0, len(idx)*per)
	for _, i := range idx {
		batch = append(batch, images[i*per:(i+1)*per]...)
	}
	capture, cache := hooks.Capture(hooks.Names(point))
	if _, err := m.m.Run(ctx, tensor.FromSlice(batch, len(idx), c.InC, c.InH, c.InW), capture); err != nil {
		return nil, inputErr(ctx, err)
	}
	act, _ := cache.Get(point)
	pix := tensor.Numel(shape[1:])
	mapShape := []int{1, 1}
	if len(shape) == 3 {
		mapShape = shape[1:]
	}
	resp := &cnnTopResponse{Point: string(point), Unit: req.Unit, Dataset: rk.dataset, Images: rk.n, MapShape: mapShape, Lo: math.Inf(1), Hi: math.Inf(-1)}
	chans := tensor.Numel(shape)
	for k, i := range idx {
		mp := act.Data[k*chans+req.Unit*pix : k*chans+(req.Unit+1)*pix]
		for _, v := range mp {
			resp.Lo, resp.Hi = min(resp.Lo, float64(v)), max(resp.Hi, float64(v))
		}
		resp.Examples = append(resp.Examples, topExample{Source: source(i), Label: labels[i], LabelName: data.FashionMNISTLabel(uint8(labels[i])),
			Activation: round4(rk.acts[req.Unit][k]), Pixels: images[i*per : (i+1)*per], Map: slices.Clone(mp)})
	}
	return resp, nil
}

// visDataset returns the images top ranks: the Fashion-MNIST test set when
// installed, else the embedded samples, with their labels, a function
// naming image i and a description of the set.
func (a *cnnAPI) visDataset() (images []float32, labels []int, source func(int) string, dataset string) {
	if set, err := a.store.testSet(); err == nil {
		labels = make([]int, set.N)
		for i, l := range set.Labels {
			labels[i] = int(l)
		}
		return set.Images, labels, func(i int) string { return fmt.Sprintf("test image %d", i) },
			fmt.Sprintf("the Fashion-MNIST test set (%d images)", set.N)
	}
	s := a.store.samples
	return s.Images, s.Labels, func(i int) string { return fmt.Sprintf("sample %d (test image %d)", i, s.Indices[i]) },
		fmt.Sprintf("the %d embedded samples (install %s for the 10,000 test images)", len(s.Labels), data.FashionMNISTPackage)
}

// rank runs the n images through m in batches and keeps, per unit of
// point, the maxCNNTopK images of largest mean activation.
func rank(ctx context.Context, m *cnnModel, point hooks.Name, images []float32, n int, dataset string) (*unitRanking, error) {
	c := m.m.Cfg
	shape, _ := m.m.PointShape(point)
	per, chans, pix := c.InC*c.InH*c.InW, tensor.Numel(shape), tensor.Numel(shape[1:])
	means := make([][]float64, shape[0]) // [unit][image]
	for u := range means {
		means[u] = make([]float64, n)
	}
	for lo := 0; lo < n; lo += cnnScanBatch {
		hi := min(n, lo+cnnScanBatch)
		capture, cache := hooks.Capture(hooks.Names(point))
		if _, err := m.m.Run(ctx, tensor.FromSlice(images[lo*per:hi*per], hi-lo, c.InC, c.InH, c.InW), capture); err != nil {
			return nil, err
		}
		act, _ := cache.Get(point)
		for b := range hi - lo {
			for u := range shape[0] {
				var s float64
				for _, v := range act.Data[b*chans+u*pix : b*chans+(u+1)*pix] {
					s += float64(v)
				}
				means[u][lo+b] = s / float64(pix)
			}
		}
	}
	rk := &unitRanking{dataset: dataset, n: n}
	for u := range shape[0] {
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		mu := means[u]
		sort.SliceStable(order, func(i, j int) bool { return mu[order[i]] > mu[order[j]] })
		order = order[:min(n, maxCNNTopK)]
		acts := make([]float64, len(order))
		for k, i := range order {
			acts[k] = mu[i]
		}
		rk.top = append(rk.top, order)
		rk.acts = append(rk.acts, acts)
	}
	return rk, nil
}
