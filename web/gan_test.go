package web

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/gan"
)

func TestGANDemo(t *testing.T) {
	m, err := loadGANDemo()
	if err != nil {
		t.Fatal(err)
	}
	c := m.m.Cfg
	if c.Arch != gan.ArchDCGAN || c.ZDim != 16 || c.GWidth != 32 || c.DWidth != 16 || c.ImageH != 28 {
		t.Errorf("GAN demo config %+v, want the 16-dimensional DCGAN of widths 32/16", c)
	}
	// The demo's samples cover most classes as the classifier sees them.
	s, _ := cnnTestServer(t)
	var r ganSamplesResponse
	post(t, s, "/api/gan/models/demo/samples", `{"seed":3,"n":256}`, &r)
	covered := 0
	for _, n := range r.Counts {
		if n > 0 {
			covered++
		}
	}
	t.Logf("256 samples: class counts %v (%d of 10 classes)", r.Counts, covered)
	if covered < 6 {
		t.Errorf("256 samples cover %d classes, want ≥ 6: mode collapse?", covered)
	}
}

func TestAPIGAN(t *testing.T) {
	s, _ := cnnTestServer(t)
	samples, walk := "/api/gan/models/demo/samples", "/api/gan/models/demo/walk"
	runAPICases(t, s, []apiCase{
		{"models", "GET", "/api/gan/models", "", "", 200, `"name":"demo"`},
		{"detail", "GET", "/api/gan/models/demo", "", "", 200, `"name":"G.blocks.1.hook_out","shape":[16,14,14]`},
		{"detail classes", "GET", "/api/gan/models/demo", "", "", 200, `"Sneaker"`},
		{"unknown", "GET", "/api/gan/models/nosuch", "", "", 404, "no GAN"},
		{"traversal", "GET", "/api/gan/models/..%2Fx", "", "", 400, "invalid name"},
		{"samples", "POST", samples, "", `{"seed":1,"n":4}`, 200, `"shape":[1,28,28]`},
		{"samples default", "POST", samples, "", `{}`, 200, `"counts":[`},
		{"samples ablated", "POST", samples, "", `{"n":2,"ablate":{"G.blocks.1.hook_out":[0,1,2]}}`, 200, `"images":[`},
		{"samples too many", "POST", samples, "", `{"n":257}`, 400, "n 257"},
		{"samples negative", "POST", samples, "", `{"n":-1}`, 400, "n -1"},
		{"ablate discriminator", "POST", samples, "", `{"ablate":{"D.blocks.0.hook_out":[0]}}`, 400, "generator"},
		{"ablate unknown", "POST", samples, "", `{"ablate":{"G.blocks.9.hook_out":[0]}}`, 400, "G.blocks"},
		{"ablate unit", "POST", samples, "", `{"ablate":{"G.blocks.1.hook_out":[16]}}`, 400, "unit 16"},
		{"samples malformed", "POST", samples, "", `{"n":`, 400, "malformed"},
		{"samples ablated before", "POST", samples, "", `{"n":2,"ablate":{"G.blocks.1.hook_out":[0]}}`, 200, `"before":{"images":[`},
		{"dissect", "POST", "/api/gan/models/demo/dissect", "", `{"seed":0,"n":16}`, 200, `"concepts":["T-shirt/top",`},
		{"dissect regions", "POST", "/api/gan/models/demo/dissect", "", `{"n":16}`, 200, `"sleeves","soles","background"]`},
		{"dissect discriminator", "POST", "/api/gan/models/demo/dissect", "", `{"point":"D.blocks.0.hook_out"}`, 400, "generator"},
		{"dissect unit", "POST", "/api/gan/models/demo/dissect", "", `{"unit":1}`, 400, "unitmaps"},
		{"dissect too many", "POST", "/api/gan/models/demo/dissect", "", `{"n":999}`, 400, "n 999"},
		{"unitmaps", "POST", "/api/gan/models/demo/unitmaps", "", `{"n":4,"unit":3}`, 200, `"map_shape":[14,14]`},
		{"unitmaps no unit", "POST", "/api/gan/models/demo/unitmaps", "", `{"n":4}`, 400, "unit"},
		{"unitmaps bad unit", "POST", "/api/gan/models/demo/unitmaps", "", `{"n":4,"unit":16}`, 400, "unit 16"},
		{"samples unknown field", "POST", samples, "", `{"m":1}`, 400, "unknown field"},
		{"walk", "POST", walk, "", `{"seed":2,"from":0,"to":5,"steps":4}`, 200, `"z_norm":[`},
		{"walk spherical", "POST", walk, "", `{"from":3,"to":1,"spherical":true}`, 200, `"spherical":true`},
		{"walk one step", "POST", walk, "", `{"steps":1}`, 400, "steps 1"},
		{"walk too many", "POST", walk, "", `{"steps":65}`, 400, "steps 65"},
		{"walk endpoint", "POST", walk, "", `{"to":256}`, 400, "256"},
		{"walk negative", "POST", walk, "", `{"from":-1}`, 400, "-1"},
		{"figure samples", "GET", "/api/gan/models/demo/figures/samples.png?seed=1&n=8", "", "", 200, ""},
		{"figure walk", "GET", "/api/gan/models/demo/figures/walk.svg?from=0&to=3&steps=6&spherical=1", "", "", 200, "<svg"},
		{"figure unknown", "GET", "/api/gan/models/demo/figures/nope.png", "", "", 404, "no GAN figure"},
		{"figure bad n", "GET", "/api/gan/models/demo/figures/samples.png?n=0", "", "", 400, "n="},
	})
}

func TestGANWalks(t *testing.T) {
	s, _ := cnnTestServer(t)
	var grid ganSamplesResponse
	post(t, s, "/api/gan/models/demo/samples", `{"seed":7,"n":6}`, &grid)
	var lin, sph ganWalkResponseJSON
	post(t, s, "/api/gan/models/demo/walk", `{"seed":7,"from":2,"to":5,"steps":9}`, &lin)
	post(t, s, "/api/gan/models/demo/walk", `{"seed":7,"from":2,"to":5,"steps":9,"spherical":true}`, &sph)
	// The walks start and end at the grid's samples 2 and 5.
	for _, w := range []ganWalkResponseJSON{lin, sph} {
		for k, end := range map[int]int{0: 2, 8: 5} {
			if d := maxDiff(w.Images[k], grid.Images[end]); d > 1e-3 {
				t.Errorf("spherical=%v: step %d differs from sample %d by %v", w.Spherical, k, end, d)
			}
		}
	}
	// A linear walk between two Gaussian samples passes through a shorter
	// z (about 1/√2 of the ends' norm midway); slerp keeps the norm.
	ends := (lin.ZNorm[0] + lin.ZNorm[8]) / 2
	t.Logf("‖z‖ midway: linear %.3f, spherical %.3f, ends %.3f", lin.ZNorm[4], sph.ZNorm[4], ends)
	if !(lin.ZNorm[4] < 0.85*ends) || math.Abs(sph.ZNorm[4]-ends) > 0.1*ends {
		t.Errorf("‖z‖ midway: linear %.3f, spherical %.3f, for ends of about %.3f", lin.ZNorm[4], sph.ZNorm[4], ends)
	}
	if len(lin.StepDistance) != 8 {
		t.Errorf("%d step distances for 9 steps", len(lin.StepDistance))
	}
}

// ganWalkResponseJSON decodes a walk.
type ganWalkResponseJSON struct {
	Spherical    bool        `json:"spherical"`
	Images       [][]float64 `json:"images"`
	ZNorm        []float64   `json:"z_norm"`
	StepDistance []float64   `json:"step_distance"`
}

func maxDiff(a []float64, b sig4) float64 {
	d := math.Inf(1)
	if len(a) == len(b) {
		d = 0
		for i := range a {
			d = max(d, math.Abs(a[i]-float64(b[i])))
		}
	}
	return d
}

func TestGANRunsListed(t *testing.T) {
	s, dir := cnnTestServer(t)
	m, err := gan.New(gan.Config{Arch: gan.ArchDCGAN, ZDim: 4, ImageC: 1, ImageH: 28, ImageW: 28, GWidth: 4, DWidth: 2})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "tinygan"), 0o755)
	if err := m.Save(filepath.Join(dir, "tinygan", modelFile), nil); err != nil {
		t.Fatal(err)
	}
	mix, err := gan.New(gan.MLP())
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "ring"), 0o755)
	if err := mix.Save(filepath.Join(dir, "ring", modelFile), nil); err != nil {
		t.Fatal(err)
	}
	runAPICases(t, s, []apiCase{
		{"samples of a run", "POST", "/api/gan/models/tinygan/samples", "", `{"n":3}`, 200, `"shape":[1,28,28]`},
		{"mixture GAN", "GET", "/api/gan/models/ring", "", "", 422, "not images"},
		{"gan as transformer", "GET", "/api/models/tinygan", "", "", 422, "tinygan"},
	})
	for _, tc := range []struct{ path, has, hasNot string }{
		{"/api/gan/models", `"name":"tinygan"`, `"name":"ring"`},
		{"/api/models", `"name":"demo"`, `"name":"tinygan"`},
		{"/api/cnn/models", `"name":"demo"`, `"name":"tinygan"`},
	} {
		body := do(t, s, "GET", tc.path, "", nil).Body.String()
		if !strings.Contains(body, tc.has) || strings.Contains(body, tc.hasNot) {
			t.Errorf("GET %s = %.300s: want %s and not %s", tc.path, body, tc.has, tc.hasNot)
		}
	}
}

// TestGANAblationBeforeAfter: with an ablation, the samples response
// carries the unablated grid, equal to a plain request's.
func TestGANAblationBeforeAfter(t *testing.T) {
	s, _ := cnnTestServer(t)
	var plain, ablated ganSamplesResponse
	post(t, s, "/api/gan/models/demo/samples", `{"seed":5,"n":8}`, &plain)
	post(t, s, "/api/gan/models/demo/samples", `{"seed":5,"n":8,"ablate":{"G.blocks.1.hook_out":[0,1,2,3,4,5]}}`, &ablated)
	if plain.Before != nil || ablated.Before == nil {
		t.Fatalf("before grid: %v without ablation, %v with", plain.Before != nil, ablated.Before != nil)
	}
	changed := false
	for i := range plain.Images {
		for p, v := range plain.Images[i] {
			if math.Abs(float64(v-ablated.Before.Images[i][p])) > 1e-6 {
				t.Fatalf("sample %d pixel %d: %v plain, %v as the before of the ablation", i, p, v, ablated.Before.Images[i][p])
			}
			changed = changed || v != ablated.Images[i][p]
		}
	}
	if !changed {
		t.Errorf("ablating six units changed no pixel")
	}
}
