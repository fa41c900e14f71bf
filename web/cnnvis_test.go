package web

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

type galleryResp struct {
	Units   int    `json:"units"`
	Setup   string `json:"setup"`
	Shape   []int  `json:"shape"`
	Entries []struct {
		Unit  int       `json:"unit"`
		Image []float64 `json:"image"`
		Start float64   `json:"start"`
		Final float64   `json:"final"`
	} `json:"entries"`
}

// TestCNNGallery asks for the gallery of the demo's second ReLU: every
// unit gets an image, most units' activations rise substantially from the
// random start, and the second request comes from the cache.
func TestCNNGallery(t *testing.T) {
	s, _ := cnnTestServer(t)
	var g, again galleryResp
	t0 := time.Now()
	post(t, s, "/api/cnn/models/demo/gallery", `{"point":"relu2.hook_out"}`, &g)
	first := time.Since(t0)
	t0 = time.Now()
	post(t, s, "/api/cnn/models/demo/gallery", `{"point":"relu2.hook_out"}`, &again)
	second := time.Since(t0)
	if g.Units != 32 || len(g.Entries) != 32 {
		t.Fatalf("gallery of %d entries for %d units, want 32", len(g.Entries), g.Units)
	}
	rose := 0
	for i, e := range g.Entries {
		if e.Unit != i || len(e.Image) != 784 {
			t.Errorf("entry %d: unit %d with %d pixels", i, e.Unit, len(e.Image))
		}
		if e.Final >= 2*e.Start+0.05 {
			rose++
		}
	}
	t.Logf("%s: %d of 32 units rose substantially; %v, then %v from the cache", g.Setup, rose, first, second)
	if 4*rose < 3*32 {
		t.Errorf("%d of 32 units rose substantially, want at least 24", rose)
	}
	if !slices.EqualFunc(g.Entries, again.Entries, func(a, b struct {
		Unit  int       `json:"unit"`
		Image []float64 `json:"image"`
		Start float64   `json:"start"`
		Final float64   `json:"final"`
	}) bool {
		return slices.Equal(a.Image, b.Image)
	}) || second > first/10 {
		t.Errorf("second request took %v against %v the first time, or changed: want it cached", second, first)
	}
}

// TestCNNTopExamples ranks the embedded samples (the test set is not
// installed in this server) by a unit's mean activation and checks the
// ranking against each sample's mean activation read from /run.
func TestCNNTopExamples(t *testing.T) {
	s, _ := cnnTestServer(t)
	const point, unit = "relu2.hook_out", 4
	var top struct {
		Dataset  string `json:"dataset"`
		Images   int    `json:"images"`
		MapShape []int  `json:"map_shape"`
		Examples []struct {
			Source     string    `json:"source"`
			Activation float64   `json:"activation"`
			Map        []float64 `json:"map"`
		} `json:"examples"`
	}
	post(t, s, "/api/cnn/models/demo/top", fmt.Sprintf(`{"point":%q,"unit":%d,"k":5}`, point, unit), &top)
	if top.Images != 32 || len(top.Examples) != 5 || !slices.Equal(top.MapShape, []int{14, 14}) {
		t.Fatalf("%d examples of %d images, maps %v; want 5 of the 32 samples, 14×14", len(top.Examples), top.Images, top.MapShape)
	}
	means := make([]float64, 32)
	for i := range means {
		var r struct {
			Point struct {
				Means []float64 `json:"means"`
			} `json:"point"`
		}
		post(t, s, "/api/cnn/models/demo/run", fmt.Sprintf(`{"image":{"sample":%d},"point":%q}`, i, point), &r)
		means[i] = r.Point.Means[unit]
	}
	order := make([]int, 32)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case means[a] > means[b]:
			return -1
		case means[a] < means[b]:
			return 1
		}
		return 0
	})
	for k, e := range top.Examples {
		var mean float64
		for _, v := range e.Map {
			mean += v
		}
		mean /= float64(len(e.Map))
		want := fmt.Sprintf("sample %d ", order[k])
		if len(e.Source) < len(want) || e.Source[:len(want)] != want || !near(e.Activation, means[order[k]], 1e-3) || !near(mean, e.Activation, 1e-3) {
			t.Errorf("example %d: %s activation %.4f (map mean %.4f), want sample %d at %.4f", k, e.Source, e.Activation, mean, order[k], means[order[k]])
		}
	}
	t.Logf("%s: top samples %v", top.Dataset, order[:5])
}

func near(a, b, tol float64) bool { return a-b <= tol && b-a <= tol }
