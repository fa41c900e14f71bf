package gan

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

func TestInterpolate(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	z0, z1 := randNormal(rng, 64), randNormal(rng, 64)
	// Give z1 the norm of z0 so that the spherical walk keeps it.
	tensor.Scale(float32(math.Sqrt(tensor.Dot(z0, z0)/tensor.Dot(z1, z1))), z1)
	n0 := math.Sqrt(tensor.Dot(z0, z0))
	for _, spherical := range []bool{false, true} {
		z, err := interpolate(z0, z1, 9, spherical)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 64 {
			if math.Abs(float64(z.Data[i]-z0[i])) > 1e-6 || math.Abs(float64(z.Data[8*64+i]-z1[i])) > 1e-6 {
				t.Fatalf("spherical=%v: endpoints differ from z0, z1", spherical)
			}
		}
		mid := z.Data[4*64 : 5*64]
		ratio := math.Sqrt(tensor.Dot(mid, mid)) / n0
		// Independent Gaussian vectors are nearly orthogonal: the chord's
		// midpoint has about 1/√2 of their norm, the arc's all of it.
		if spherical && math.Abs(ratio-1) > 1e-5 || !spherical && (ratio < 0.55 || ratio > 0.85) {
			t.Errorf("spherical=%v: midpoint norm ratio %.4f", spherical, ratio)
		}
	}
	if _, err := Lerp(z0, z1[:3], 4); err == nil {
		t.Error("Lerp accepted endpoints of different lengths")
	}
	if _, err := Slerp(z0, z0, 1); err == nil {
		t.Error("Slerp accepted one step")
	}
	same, err := Slerp(z0, z0, 3) // parallel: falls back to the line
	if err != nil || !slices.Equal(same.Data[64:128], z0) {
		t.Errorf("Slerp of a vector with itself: %v", err)
	}
}

// brightnessJudge is a deterministic stand-in for a classifier: features
// are an image's mean and its mean square, and the class is the brightness
// of its first row in thirds, with soft probabilities.
type brightnessJudge struct{ per int }

func (brightnessJudge) Dim() int     { return 2 }
func (brightnessJudge) Classes() int { return 3 }
func (j brightnessJudge) Judge(ctx context.Context, feats, probs, images []float32, n int) error {
	for i := range n {
		img := images[i*j.per : (i+1)*j.per]
		feats[2*i], feats[2*i+1] = float32(tensor.Sum(img)/float64(j.per)), float32(tensor.Dot(img, img)/float64(j.per))
		m := tensor.Sum(img[:4]) / 4
		logits := []float32{float32(-30 * (m - 1.0/6) * (m - 1.0/6)), float32(-30 * (m - 0.5) * (m - 0.5)), float32(-30 * (m - 5.0/6) * (m - 5.0/6))}
		tensor.Softmax(probs[3*i:3*i+3], logits, 3)
	}
	return nil
}

func TestLatentTools(t *testing.T) {
	cfg := tinyConfigs()["dcgan"]
	cfg.ImageC = 1
	m := mustNew(t, cfg)
	// Wider weights than DCGAN's init so that samples differ visibly.
	for _, n := range []*Net{m.G} {
		tensor.Scale(40, n.P.Data())
	}
	j := brightnessJudge{per: 8 * 4}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(6, 6))
	z0, z1 := randNormal(rng, cfg.ZDim), randNormal(rng, cfg.ZDim)

	w, err := m.Walk(ctx, j, z0, z1, 5, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Classes) != 5 || len(w.StepDistance) != 4 || w.Images.Shape[0] != 5 {
		t.Fatalf("walk: %d classes, %d distances, images %v", len(w.Classes), len(w.StepDistance), w.Images.Shape)
	}
	first, err := m.Generate(ctx, tensor.FromSlice(slices.Clone(z0), 1, cfg.ZDim), nil)
	if err != nil {
		t.Fatal(err)
	}
	ToPixels(first.Data)
	for i, v := range first.Data {
		if math.Abs(float64(v-w.Images.Data[i])) > 1e-6 {
			t.Fatalf("the walk's first image differs from Generate(z0) at %d: %v vs %v", i, w.Images.Data[i], v)
		}
	}

	means, err := m.ClassMeans(ctx, j, 300, 0, rng)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for c, n := range means.Counts {
		total += n
		if (n > 0) != (means.Means[c] != nil) {
			t.Errorf("class %d: %d samples, mean %v", c, n, means.Means[c])
		}
	}
	if total != 300 {
		t.Errorf("class counts %v sum to %d, want 300", means.Counts, total)
	}
	from, to := -1, -1
	for c, n := range means.Counts {
		if n >= 10 {
			if from < 0 {
				from = c
			} else if to < 0 {
				to = c
			}
		}
	}
	if to < 0 {
		t.Fatalf("the tiny generator makes fewer than two classes: %v", means.Counts)
	}
	a, err := m.Arithmetic(ctx, j, means, from, to, 20, rng)
	if err != nil {
		t.Fatal(err)
	}
	if a.BaseRate != 0 || a.Success < 0 || a.Success > 1 || a.ControlSuccess < 0 || a.ControlSuccess > 1 || a.DirectionNorm <= 0 {
		t.Errorf("arithmetic %d → %d: %+v", from, to, a)
	}

	z := randNormal(rng, 16*cfg.ZDim)
	none, err := m.AblateUnits(ctx, j, z, 16, DefaultAblationPoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	if none.PixelChange != 0 || !slices.Equal(none.ProbBefore, none.ProbAfter) {
		t.Errorf("ablating no unit changed the samples: %+v", none)
	}
	all, err := m.AblateUnits(ctx, j, z, 16, DefaultAblationPoint, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	// With every unit of the last hidden map zeroed, the image is tanh of
	// the output bias alone: the same for every latent vector.
	per := 8 * 4
	if all.PixelChange == 0 || !slices.Equal(all.After.Data[:per], all.After.Data[15*per:]) {
		t.Errorf("ablating every unit: change %v, first and last images equal: %v", all.PixelChange,
			slices.Equal(all.After.Data[:per], all.After.Data[15*per:]))
	}
	rank, err := m.RankUnits(ctx, j, DefaultAblationPoint, from, 200, rng)
	if err != nil {
		t.Fatal(err)
	}
	if len(rank) != 2 || rank[0].Score < rank[1].Score {
		t.Errorf("ranking %+v", rank)
	}
	u, err := m.UnitAblation(ctx, j, UnitAblationOptions{Class: from, K: 1, Rank: RankAssociation, RankN: 200, N: 10}, rng)
	if err != nil {
		t.Fatal(err)
	}
	if u.Rank != RankAssociation || u.Top.Units[0] != u.Ranking[0].Unit || u.Random.Units[0] == u.Top.Units[0] ||
		u.ClassProb != u.Top.ProbBefore[from] || u.Top.N != 10 {
		t.Errorf("unit ablation %+v", u)
	}
	if _, err := m.UnitAblation(ctx, j, UnitAblationOptions{Class: from, K: 1, RankN: 20, N: 10}, rng); err == nil {
		t.Error("ranking by attribution accepted a judge without gradients")
	}
	for _, bad := range []string{"D.blocks.0.hook_out", "G.hook_z", "G.blocks.9.hook_out"} {
		if _, err := m.AblateUnits(ctx, j, z, 16, hooks.Name(bad), []int{0}); err == nil {
			t.Errorf("AblateUnits accepted point %q", bad)
		}
	}
	if _, err := m.AblateUnits(ctx, j, z, 16, DefaultAblationPoint, []int{2}); err == nil {
		t.Error("AblateUnits accepted a unit out of range")
	}
}

// linearJudge is a smooth GradJudge: logits = W·pixels with a fixed random
// W [3, pixels], so that central differences are exact to O(ε²).
type linearJudge struct {
	w   []float32
	per int
}

func (linearJudge) Dim() int     { return 1 }
func (linearJudge) Classes() int { return 3 }
func (j linearJudge) logits(img []float32) []float32 {
	l := make([]float32, 3)
	for c := range l {
		l[c] = float32(tensor.Dot(j.w[c*j.per:(c+1)*j.per], img))
	}
	return l
}
func (j linearJudge) Judge(_ context.Context, feats, probs, images []float32, n int) error {
	for i := range n {
		tensor.Softmax(probs[3*i:3*i+3], j.logits(images[i*j.per:(i+1)*j.per]), 3)
	}
	return nil
}

// ClassGrad is W_c − Σ_k p_k W_k.
func (j linearJudge) ClassGrad(_ context.Context, dst, images []float32, n, class int) error {
	p := make([]float32, 3)
	for i := range n {
		tensor.Softmax(p, j.logits(images[i*j.per:(i+1)*j.per]), 3)
		d := dst[i*j.per : (i+1)*j.per]
		copy(d, j.w[class*j.per:(class+1)*j.per])
		for k := range 3 {
			tensor.Axpy(-p[k], j.w[k*j.per:(k+1)*j.per], d)
		}
	}
	return nil
}

// TestAttributeUnits checks AttributeUnits' chain (the judge's gradient,
// the pixel scaling, the generator's backward pass to the hook point)
// against a central difference: scaling unit u by 1 + ε changes mean
// log p(c) by ε·(the unit's attribution) to first order. The generator is
// smooth downstream of its last hidden map (transposed convolution, tanh)
// and so is the judge.
func TestAttributeUnits(t *testing.T) {
	cfg := DCGAN()
	cfg.GWidth, cfg.DWidth, cfg.ZDim, cfg.Seed = 8, 2, 5, 3
	m := mustNew(t, cfg)
	// Weights 3× DCGAN's for visible images, not so large that tanh
	// saturates and bends within a step.
	tensor.Scale(3, m.G.P.Data())
	rng := rand.New(rand.NewPCG(3, 3))
	j := linearJudge{w: randNormal(rng, 3*784), per: 784}
	tensor.Scale(0.05, j.w)
	ctx := context.Background()
	const n, class = 3, 2
	z := randNormal(rng, n*cfg.ZDim)
	got, err := m.AttributeUnits(ctx, j, DefaultAblationPoint, class, z, n)
	if err != nil {
		t.Fatal(err)
	}
	meanLogP := func(unit int, scale float32) float64 {
		hs := hooks.NewSet().Add(DefaultAblationPoint, func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
			hw := a.Shape[2] * a.Shape[3]
			for b := range a.Shape[0] {
				tensor.Scale(scale, a.Data[(b*a.Shape[1]+unit)*hw:(b*a.Shape[1]+unit+1)*hw])
			}
			return nil
		})
		images, err := m.generateChunked(ctx, z, n, hs)
		if err != nil {
			t.Fatal(err)
		}
		ToPixels(images.Data)
		probs := make([]float32, n*3)
		if err := j.Judge(ctx, nil, probs, images.Data, n); err != nil {
			t.Fatal(err)
		}
		var s float64
		for i := range n {
			s += math.Log(float64(probs[i*3+class])) / n
		}
		return s
	}
	const eps = 1e-2
	for _, u := range got {
		fd := (meanLogP(u.Unit, 1+eps) - meanLogP(u.Unit, 1-eps)) / (2 * eps)
		// float32 log-probabilities (≈1e-7 of O(1)) over 2ε leave ≈1e-5.
		if math.Abs(fd-u.Score) > 1e-4+1e-3*math.Abs(fd) {
			t.Errorf("unit %d: attribution %.6f, central difference %.6f", u.Unit, u.Score, fd)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].Score > got[i-1].Score {
			t.Fatalf("ranking not descending: %+v", got)
		}
	}
	// Ablate the class the generator makes most often.
	_, probs, err := m.generateJudged(ctx, j, randNormal(rng, 64*cfg.ZDim), 64)
	if err != nil {
		t.Fatal(err)
	}
	counts := ClassCounts(probs.Data, 64, 3)
	common := slices.Index(counts, slices.Max(counts))
	u, err := m.UnitAblation(ctx, j, UnitAblationOptions{Class: common, K: 2, RankN: 8, N: 4}, rng)
	if err != nil {
		t.Fatal(err)
	}
	if u.Rank != RankAttribution || len(u.Top.Units) != 2 || slices.Contains(u.Top.Units, u.Random.Units[0]) {
		t.Errorf("unit ablation by attribution: %+v", u)
	}
}

// TestClassifierGrad checks the classifier judge's gradient of log p(c)
// against central differences along random directions. The classifier's
// ReLUs and max-pools switch within a step somewhere among its thousands of
// units, so the bound is loose: it catches a wrong sign, scale or class.
func TestClassifierGrad(t *testing.T) {
	clf, err := cnn.New(cnn.Classifier())
	if err != nil {
		t.Fatal(err)
	}
	j, err := NewClassifierJudge(clf, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	const n, class, eps = 2, 4, 1e-3
	img := make([]float32, n*784)
	for i := range img {
		img[i] = float32(rng.Float64())
	}
	g := make([]float32, len(img))
	ctx := context.Background()
	if err := j.ClassGrad(ctx, g, img, n, class); err != nil {
		t.Fatal(err)
	}
	logp := func(x []float32) float64 {
		p := make([]float32, n*10)
		if err := j.Judge(ctx, make([]float32, n*j.Dim()), p, x, n); err != nil {
			t.Fatal(err)
		}
		return math.Log(float64(p[class])) + math.Log(float64(p[10+class]))
	}
	for range 3 {
		v := randNormal(rng, len(img))
		xp, xm := slices.Clone(img), slices.Clone(img)
		tensor.Axpy(eps, v, xp)
		tensor.Axpy(-eps, v, xm)
		an, fd := tensor.Dot(v, g), (logp(xp)-logp(xm))/(2*eps)
		if math.Abs(an-fd) > 0.02+0.2*math.Abs(fd) {
			t.Errorf("directional derivative %.5f, central difference %.5f", an, fd)
		}
	}
}
