package web

import (
	"context"
	"embed"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/figures"
	"github.com/mechinterp/workbench/gan"
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// The GAN demo is a small DCGAN (z of 16 dimensions, generator
// 16 → 32×7×7 → 16×14×14 → 1×28×28, discriminator 16/32 channels) trained
// on Fashion-MNIST by Workbench itself with
//
//	go run ./cmd/workbench train gan --out /tmp/gan --z-dim 16 --g-width 32 --d-width 16 \
//	    --steps 3000 --classifier /tmp/cnn/model.safetensors --eval-n 2000
//
// (see gandemo/README.md). The embedded CNN demo judges its samples.
//
//go:embed gandemo/model.safetensors
var ganDemoFS embed.FS

// Bounds of the GAN endpoints' inputs.
const (
	maxGANSamples   = 256
	maxGANWalkSteps = 64
)

// ganModel is a loaded GAN.
type ganModel struct {
	name   string
	source string // "demo" or "run"
	m      *gan.Model
	// dissections caches the dissections of sample grids.
	dissections keyedMemo[dissectKey, *gan.Dissection]
}

func newGANModel(name, source string, f *checkpoint.File) (*ganModel, error) {
	js := f.Metadata[gan.ConfigMetadataKey]
	if js == "" {
		return nil, fmt.Errorf("not a GAN checkpoint: no %q metadata", gan.ConfigMetadataKey)
	}
	cfg, err := gan.ParseConfig([]byte(js))
	if err != nil {
		return nil, err
	}
	if cfg.Arch != gan.ArchDCGAN {
		return nil, fmt.Errorf("a %s GAN makes %v points, not images: the page shows image GANs", cfg.Arch, cfg.SampleShape())
	}
	m, err := gan.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := m.LoadStateDict(f); err != nil {
		return nil, err
	}
	return &ganModel{name: name, source: source, m: m}, nil
}

// loadGANDemo parses the embedded GAN; failure is a build error the tests
// catch.
func loadGANDemo() (*ganModel, error) {
	b, err := ganDemoFS.ReadFile("gandemo/model.safetensors")
	if err != nil {
		return nil, err
	}
	f, err := checkpoint.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("web: gan demo: %w", err)
	}
	m, err := newGANModel(demoName, "demo", f)
	if err != nil {
		return nil, fmt.Errorf("web: gan demo: %w", err)
	}
	return m, nil
}

// ganAPI is /api/gan: image GANs' sample grids and latent walks, judged by
// a classifier (the embedded CNN demo).
type ganAPI struct {
	runsDir string
	demo    *ganModel
	runs    *runCache[*ganModel]
	judge   *gan.ClassifierJudge
	classes []string
	log     *slog.Logger
}

func newGANAPI(runsDir string, demo *ganModel, judge *cnn.Model, log *slog.Logger) *ganAPI {
	j, err := gan.NewClassifierJudge(judge, "", 0)
	if err != nil {
		panic(err) // the embedded classifier has feature maps: TestGANDemo
	}
	load := func(name string, f *checkpoint.File) (*ganModel, error) { return newGANModel(name, "run", f) }
	return &ganAPI{runsDir: runsDir, demo: demo, runs: newRunCache(runsDir, "GAN", load), judge: j, classes: classNames(judge.Cfg), log: log}
}

// Routes returns the /api/gan router.
func (a *ganAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Get("/models", handle(a.log, a.list))
	r.Route("/models/{name}", func(r chi.Router) {
		r.Use(a.withModel)
		r.Get("/", handle(a.log, a.detail))
		r.Post("/samples", handle(a.log, ganEndpoint(a.samples)))
		r.Post("/walk", handle(a.log, ganEndpoint(a.walk)))
		r.Post("/dissect", handle(a.log, ganEndpoint(a.dissect)))
		r.Post("/unitmaps", handle(a.log, ganEndpoint(a.unitMaps)))
		r.Get("/figures/{figure}", handle(a.log, a.figure))
	})
	return r
}

type ganModelKey struct{}

func (a *ganAPI) get(name string) (*ganModel, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if name == demoName {
		return a.demo, nil
	}
	return a.runs.get(name)
}

func (a *ganAPI) withModel(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, err := urlParam(r, "name")
		if err == nil {
			var m *ganModel
			if m, err = a.get(name); err == nil {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ganModelKey{}, m)))
				return
			}
		}
		handle(a.log, func(http.ResponseWriter, *http.Request) error { return err })(w, r)
	})
}

func ganEndpoint[Req, Resp any](f func(ctx context.Context, m *ganModel, req Req) (Resp, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req Req
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
		resp, err := f(r.Context(), r.Context().Value(ganModelKey{}).(*ganModel), req)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, resp)
	}
}

// ganSummary is one entry of GET /api/gan/models.
type ganSummary struct {
	Name    string     `json:"name"`
	Source  string     `json:"source"`
	Config  gan.Config `json:"config"`
	Updated *time.Time `json:"updated,omitempty"`
}

func (a *ganAPI) list(w http.ResponseWriter, r *http.Request) error {
	out := []ganSummary{{Name: demoName, Source: "demo", Config: a.demo.m.Cfg}}
	dirs, err := runDirs(a.runsDir)
	if err != nil {
		return err
	}
	var runs []ganSummary
	for _, d := range dirs {
		path := filepath.Join(a.runsDir, d, modelFile)
		js, st, ok := readMetadata(path, gan.ConfigMetadataKey)
		if !ok {
			continue
		}
		cfg, err := gan.ParseConfig([]byte(js))
		if err != nil || cfg.Arch != gan.ArchDCGAN {
			continue
		}
		mod := st.ModTime()
		runs = append(runs, ganSummary{Name: d, Source: "run", Config: cfg, Updated: &mod})
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Updated.After(*runs[j].Updated) })
	return writeJSON(w, http.StatusOK, append(out, runs...))
}

// ganDetail is GET /api/gan/models/{name}: the config, the classes of the
// judge, and the generator's hook points (ablatable).
type ganDetail struct {
	Name    string      `json:"name"`
	Source  string      `json:"source"`
	Config  gan.Config  `json:"config"`
	Classes []string    `json:"classes"`
	Points  []pointInfo `json:"points"`
}

func (a *ganAPI) detail(w http.ResponseWriter, r *http.Request) error {
	m := r.Context().Value(ganModelKey{}).(*ganModel)
	d := ganDetail{Name: m.name, Source: m.source, Config: m.m.Cfg, Classes: a.classes}
	for _, p := range m.m.Points() {
		if p.Name != m.m.G.InputPoint() && isGenerator(p.Name) {
			d.Points = append(d.Points, pointInfo{string(p.Name), p.Shape})
		}
	}
	return writeJSON(w, http.StatusOK, d)
}

func isGenerator(name hooks.Name) bool { return len(name) > 2 && name[:2] == "G." }

// latents returns n latent vectors [n, z_dim] drawn from seed: row i is the
// same for every n > i, so a walk's endpoints name samples of a grid.
func latents(m *gan.Model, seed uint64, n int) []float32 {
	z := make([]float32, n*m.Cfg.ZDim)
	gan.SampleZ(z, rand.New(rand.NewPCG(seed, 0x6a6e)))
	return z
}

// ganSamplesRequest is POST /api/gan/models/{name}/samples.
type ganSamplesRequest struct {
	Seed uint64 `json:"seed"`
	N    int    `json:"n,omitempty"` // 1 to 256 (0: 32)
	// Ablate zero-ablates generator units: hook point → channels.
	Ablate map[string][]int `json:"ablate,omitempty"`
}

// ganSamplesResponse holds the images ([n][C·H·W], pixels in [0, 1]), the
// judge's class and probability for each, the discriminator's D(x), and
// how many samples fell in each class.
type ganSamplesResponse struct {
	Shape   []int     `json:"shape"`
	Images  []sig4    `json:"images"`
	Classes []int     `json:"classes"`
	Prob    []float64 `json:"prob"`
	D       []float64 `json:"d"`
	Counts  []int     `json:"counts"`
	Names   []string  `json:"names"`
	// Before is the same grid without the ablation (absent when there is
	// none), for the before/after view.
	Before *ganGridView `json:"before,omitempty"`
}

// ganGridView is a sample grid as the judge sees it.
type ganGridView struct {
	Images  []sig4    `json:"images"`
	Classes []int     `json:"classes"`
	Prob    []float64 `json:"prob"`
	Counts  []int     `json:"counts"`
}

func (a *ganAPI) samples(ctx context.Context, m *ganModel, req ganSamplesRequest) (*ganSamplesResponse, error) {
	if req.N == 0 {
		req.N = 32
	}
	if req.N < 1 || req.N > maxGANSamples {
		return nil, errorf(http.StatusBadRequest, "web: n %d: want 1 to %d samples", req.N, maxGANSamples)
	}
	hs, err := a.ablation(m, req.Ablate)
	if err != nil {
		return nil, err
	}
	c := m.m.Cfg
	x, err := m.m.Generate(ctx, tensor.FromSlice(latents(m.m, req.Seed, req.N), req.N, c.ZDim), hs)
	if err != nil {
		return nil, inputErr(ctx, err)
	}
	logits, err := m.m.Discriminate(ctx, x, nil)
	if err != nil {
		return nil, inputErr(ctx, err)
	}
	images := gan.ToPixels(x.Data)
	classes, prob, err := a.judgeImages(ctx, images, req.N)
	if err != nil {
		return nil, err
	}
	resp := &ganSamplesResponse{Shape: c.SampleShape(), Classes: classes, Prob: prob, Counts: make([]int, len(a.classes)), Names: a.classes}
	per := c.SampleSize()
	for i := range req.N {
		resp.Images = append(resp.Images, images[i*per:(i+1)*per])
		resp.D = append(resp.D, round4(1/(1+math.Exp(-float64(logits.Data[i])))))
		resp.Counts[classes[i]]++
	}
	if hs != nil {
		clean, err := m.m.Generate(ctx, tensor.FromSlice(latents(m.m, req.Seed, req.N), req.N, c.ZDim), nil)
		if err != nil {
			return nil, inputErr(ctx, err)
		}
		pixels := gan.ToPixels(clean.Data)
		b := &ganGridView{Counts: make([]int, len(a.classes))}
		if b.Classes, b.Prob, err = a.judgeImages(ctx, pixels, req.N); err != nil {
			return nil, err
		}
		for i := range req.N {
			b.Images = append(b.Images, pixels[i*per:(i+1)*per])
			b.Counts[b.Classes[i]]++
		}
		resp.Before = b
	}
	return resp, nil
}

// judgeImages returns the judge's top class and its probability for n
// images in [0, 1].
func (a *ganAPI) judgeImages(ctx context.Context, images []float32, n int) ([]int, []float64, error) {
	k := a.judge.Classes()
	feats, probs := make([]float32, n*a.judge.Dim()), make([]float32, n*k)
	if err := a.judge.Judge(ctx, feats, probs, images, n); err != nil {
		return nil, nil, inputErr(ctx, err)
	}
	classes, prob := make([]int, n), make([]float64, n)
	for i := range n {
		row := probs[i*k : (i+1)*k]
		for j, p := range row {
			if p > row[classes[i]] {
				classes[i] = j
			}
		}
		prob[i] = round4(float64(row[classes[i]]))
	}
	return classes, prob, nil
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// ablation returns zero-ablation hooks on generator points.
func (a *ganAPI) ablation(m *ganModel, ablate map[string][]int) (*hooks.Set, error) {
	if len(ablate) == 0 {
		return nil, nil
	}
	if len(ablate) > maxCNNEditPoints {
		return nil, errorf(http.StatusBadRequest, "web: %d ablated points, at most %d", len(ablate), maxCNNEditPoints)
	}
	hs := hooks.NewSet()
	for p, units := range ablate {
		name, err := m.m.ParseHook(p)
		if err != nil {
			return nil, badRequest(err)
		}
		if !isGenerator(name) || name == m.m.G.InputPoint() {
			return nil, errorf(http.StatusBadRequest, "web: ablate %s: only the generator's layers (G.blocks.…) are ablated here", p)
		}
		shape, _ := m.m.PointShape(name)
		f, err := unitEdit(p, shape, units, cnn.Zero())
		if err != nil {
			return nil, err
		}
		hs.Add(name, f)
	}
	return hs, nil
}

// ganWalkRequest is POST /api/gan/models/{name}/walk: from sample From to
// sample To of the grid drawn from Seed.
type ganWalkRequest struct {
	Seed      uint64 `json:"seed"`
	From      int    `json:"from"`
	To        int    `json:"to"`
	Steps     int    `json:"steps,omitempty"` // 2 to 64 (0: 10)
	Spherical bool   `json:"spherical,omitempty"`
}

type ganWalkResponse struct {
	Shape        []int     `json:"shape"`
	Spherical    bool      `json:"spherical"`
	Images       []sig4    `json:"images"`
	Classes      []int     `json:"classes"`
	ZNorm        []float64 `json:"z_norm"`
	StepDistance []float64 `json:"step_distance"`
}

func (a *ganAPI) walk(ctx context.Context, m *ganModel, req ganWalkRequest) (*ganWalkResponse, error) {
	if req.Steps == 0 {
		req.Steps = 10
	}
	if req.Steps < 2 || req.Steps > maxGANWalkSteps {
		return nil, errorf(http.StatusBadRequest, "web: steps %d: want 2 to %d", req.Steps, maxGANWalkSteps)
	}
	for _, i := range []int{req.From, req.To} {
		if i < 0 || i >= maxGANSamples {
			return nil, errorf(http.StatusBadRequest, "web: walk endpoint %d: want a sample index in [0, %d)", i, maxGANSamples)
		}
	}
	d := m.m.Cfg.ZDim
	z := latents(m.m, req.Seed, max(req.From, req.To)+1)
	w, err := m.m.Walk(ctx, a.judge, z[req.From*d:(req.From+1)*d], z[req.To*d:(req.To+1)*d], req.Steps, req.Spherical)
	if err != nil {
		return nil, inputErr(ctx, err)
	}
	resp := &ganWalkResponse{Shape: m.m.Cfg.SampleShape(), Spherical: req.Spherical, Classes: w.Classes}
	per := m.m.Cfg.SampleSize()
	for s := range req.Steps {
		resp.Images = append(resp.Images, w.Images.Data[s*per:(s+1)*per])
		resp.ZNorm = append(resp.ZNorm, round4(w.ZNorm[s]))
	}
	for _, v := range w.StepDistance {
		resp.StepDistance = append(resp.StepDistance, round4(v))
	}
	return resp, nil
}

// figure serves GET /api/gan/models/{name}/figures/{samples|walk}.{png|svg}
// with ?seed=&n= (samples) or ?seed=&from=&to=&steps=&spherical=1 (walk).
func (a *ganAPI) figure(w http.ResponseWriter, r *http.Request) error {
	m := r.Context().Value(ganModelKey{}).(*ganModel)
	return serveFigure(w, r, "gan-"+m.name, func(name string, q url.Values) (*figures.Figure, error) {
		seed, err := intParam(q, "seed", 0, 0, math.MaxInt32)
		if err != nil {
			return nil, err
		}
		var images []sig4
		var classes []int
		var title string
		switch name {
		case "samples":
			n, err := intParam(q, "n", 32, 1, maxGANSamples)
			if err != nil {
				return nil, err
			}
			res, err := a.samples(r.Context(), m, ganSamplesRequest{Seed: uint64(seed), N: n})
			if err != nil {
				return nil, err
			}
			images, classes, title = res.Images, res.Classes, fmt.Sprintf("%d samples of %s (seed %d), labelled by the classifier", n, m.name, seed)
		case "walk":
			req := ganWalkRequest{Seed: uint64(seed), Spherical: q.Get("spherical") == "1" || q.Get("spherical") == "true"}
			if req.From, err = intParam(q, "from", 0, 0, maxGANSamples-1); err != nil {
				return nil, err
			}
			if req.To, err = intParam(q, "to", 1, 0, maxGANSamples-1); err != nil {
				return nil, err
			}
			if req.Steps, err = intParam(q, "steps", 10, 2, maxGANWalkSteps); err != nil {
				return nil, err
			}
			res, err := a.walk(r.Context(), m, req)
			if err != nil {
				return nil, err
			}
			kind := "linear"
			if req.Spherical {
				kind = "spherical"
			}
			images, classes, title = res.Images, res.Classes, fmt.Sprintf("%s walk from sample %d to %d (seed %d)", kind, req.From, req.To, seed)
		default:
			return nil, errorf(http.StatusNotFound, "web: no GAN figure %q (want samples or walk)", name)
		}
		spec := figures.ImageGridSpec{Title: title, Height: m.m.Cfg.ImageH, Width: m.m.Cfg.ImageW, Channels: m.m.Cfg.ImageC,
			ColorMap: figures.Grey, Range: figures.Range{Min: 0, Max: 1}}
		if name == "walk" {
			spec.Cols = len(images)
		}
		for i, im := range images {
			spec.Images = append(spec.Images, im)
			spec.Labels = append(spec.Labels, strconv.Itoa(i)+" "+a.classes[classes[i]])
		}
		return figures.ImageGrid(spec)
	})
}
