package gan

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/data"
)

func TestUpsample(t *testing.T) {
	// [0 1; 2 3] to 4×4, pixel centres aligned: output (1, 1) sits at
	// source (0.25, 0.25): 0·.75·.75 + 1·.75·.25 + 2·.25·.75 + 3·.25·.25.
	dst := make([]float32, 16)
	upsample(dst, []float32{0, 1, 2, 3}, 2, 2, 4, 4)
	for _, tc := range []struct {
		y, x int
		want float32
	}{{0, 0, 0}, {3, 3, 3}, {1, 1, 0.75}, {0, 3, 1}, {3, 0, 2}} {
		if got := dst[tc.y*4+tc.x]; math.Abs(float64(got-tc.want)) > 1e-6 {
			t.Errorf("upsampled (%d, %d) = %v, want %v", tc.y, tc.x, got, tc.want)
		}
	}
}

func TestQuantile(t *testing.T) {
	x := []float32{5, 1, 4, 2, 3, 9, 8, 7, 6, 10}
	if got := quantile(x, 0.9); got != 9 {
		t.Errorf("0.9-quantile of 1..10 = %v, want 9 (one value above it)", got)
	}
	if !slices.Equal(x, []float32{5, 1, 4, 2, 3, 9, 8, 7, 6, 10}) {
		t.Errorf("quantile reordered its input")
	}
}

func TestRegionMasks(t *testing.T) {
	const h, w = 8, 6
	fg := make([]bool, h*w)
	for y := 2; y < 8; y++ { // a garment on rows 2..7, every column
		for x := range w {
			fg[y*w+x] = true
		}
	}
	if sleeves(fg, h, w, 1) != nil || soles(fg, h, w, 0) != nil {
		t.Errorf("a trouser has sleeves or a T-shirt soles")
	}
	sl := sleeves(fg, h, w, 0)
	so := soles(fg, h, w, 9)
	for y := range h {
		for x := range w {
			// Sleeves: columns 0, 1 and 4, 5 (outer thirds of 6).
			if want := fg[y*w+x] && (x < 2 || x >= 4); sl[y*w+x] != want {
				t.Errorf("sleeves (%d, %d) = %v, want %v", y, x, sl[y*w+x], want)
			}
			// Soles: the lowest quarter of rows 2..7 (6 rows → 1): row 7.
			if want := y == 7; so[y*w+x] != want {
				t.Errorf("soles (%d, %d) = %v, want %v", y, x, so[y*w+x], want)
			}
		}
	}
}

// demoGAN loads the dashboard's embedded DCGAN and the classifier that
// judges it, files of this repository (web/gandemo, web/cnndemo).
func demoGAN(t *testing.T) (*Model, *ClassifierJudge) {
	t.Helper()
	m, err := Load("../web/gandemo/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cnn.Load("../web/cnndemo/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	j, err := NewClassifierJudge(c, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, j
}

func fashionNames() []string {
	out := make([]string, data.FashionMNISTClasses)
	for i := range out {
		out[i] = data.FashionMNISTLabel(uint8(i))
	}
	return out
}

// TestDissectAblation dissects the demo generator's last hidden layer on
// 256 samples, then for each class with enough samples zeroes the 4 units
// whose maps overlap that class's garments most (IoU) and, as the control,
// 4 random other units (three draws, averaged), on fresh samples judged
// that class: the top units
// must lower the judge's probability of the class more than the random
// ones, on average over the classes.
func TestDissectAblation(t *testing.T) {
	slow(t)
	m, j := demoGAN(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(21, 22))
	const n, k, nAblate, randomDraws = 128, 4, 16, 3
	z := make([]float32, n*m.Cfg.ZDim)
	SampleZ(z, rng)
	d, err := m.Dissect(ctx, j, DefaultAblationPoint, z, n, fashionNames())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Concepts) != 13 || len(d.IoU) != m.Cfg.GWidth/2 {
		t.Fatalf("%d concepts, %d units", len(d.Concepts), len(d.IoU))
	}
	for u, row := range d.IoU {
		for c, v := range row {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("IoU(unit %d, %s) = %v", u, d.Concepts[c], v)
			}
		}
	}
	var topDrop, randDrop float64
	classes := 0
	for c := range j.Classes() {
		count := 0
		for _, cl := range d.Classes {
			if cl == c {
				count++
			}
		}
		if count < n/40 {
			continue // too rare among the samples to rank on
		}
		best := d.Best(c)
		top := make([]int, k)
		for i := range top {
			top[i] = best[i].Unit
		}
		zc, err := m.samplesOfClass(ctx, j, c, nAblate, rng)
		if err != nil {
			t.Fatal(err)
		}
		at, err := m.AblateUnits(ctx, j, zc, nAblate, d.Point, top)
		if err != nil {
			t.Fatal(err)
		}
		// The control: the mean over three draws of random other units.
		var pr float64
		var draws [][]int
		for range randomDraws {
			random := randomUnits(best, k, rng)
			ar, err := m.AblateUnits(ctx, j, zc, nAblate, d.Point, random)
			if err != nil {
				t.Fatal(err)
			}
			pr += ar.ProbAfter[c] / randomDraws
			draws = append(draws, random)
		}
		p0, pt := at.ProbBefore[c], at.ProbAfter[c]
		t.Logf("%-11s (%3d of %d samples): p %.3f → top-%d IoU units %v %.3f, random %v %.3f (best IoU %.3f)",
			d.Concepts[c], count, n, p0, k, top, pt, draws, pr, best[0].Score)
		topDrop += p0 - pt
		randDrop += p0 - pr
		classes++
	}
	topDrop /= float64(classes)
	randDrop /= float64(classes)
	t.Logf("mean drop of the class probability over %d classes: top units %.3f, random units %.3f", classes, topDrop, randDrop)
	if !(topDrop > randDrop) {
		t.Errorf("zeroing the top-IoU units lowered the class probability by %.3f on average, random units by %.3f: want the top units ahead", topDrop, randDrop)
	}
}
