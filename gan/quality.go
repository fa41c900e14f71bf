package gan

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mechinterp/workbench/data"
)

// Score is the quality of a set of images as a Judge sees it.
type Score struct {
	// FID is the Fréchet distance between the Gaussians of the set's
	// features and of the reference set's: lower is better, and a second
	// real set of the same size scores the floor (Controls.RealVsReal).
	FID float64 `json:"fid"`
	// InceptionScore is the Inception-style score of the judge's class
	// probabilities, mean and standard deviation over 10 splits: higher is
	// better, at most the number of classes.
	InceptionScore    float64 `json:"inception_score"`
	InceptionScoreStd float64 `json:"inception_score_std"`
	// ClassesCovered is the fraction of classes that are the judge's top
	// prediction for at least one image; ClassCounts counts them.
	ClassesCovered float64 `json:"classes_covered"`
	ClassCounts    []int   `json:"class_counts"`
	N              int     `json:"n"`
}

// Controls are the scores of real and degraded image sets of the same size
// as the sets under test, which say what a score means: without them an FID
// on our own classifier's features is a number without a scale.
type Controls struct {
	RealVsReal Score `json:"real_vs_real"` // a disjoint real set: the floor
	Noise      Score `json:"noise"`        // the same real set plus N(0, NoiseSigma²) pixel noise, clipped to [0, 1]
	Blur       Score `json:"blur"`         // the same real set blurred by a Gaussian of BlurSigma pixels
	OneClass   Score `json:"one_class"`    // real images of one class only: mode collapse
}

// The degradations of the controls.
const (
	NoiseSigma = 0.25 // pixel noise standard deviation, pixels in [0, 1]
	BlurSigma  = 1.0  // Gaussian blur standard deviation in pixels (kernel radius 3σ)
)

// ISSplits is the number of splits of the Inception-style score.
const ISSplits = 10

// Evaluator scores image sets of a fixed size n against a reference set of
// n real images, with a Judge, and holds the controls. It is safe for
// concurrent use if its Judge is.
type Evaluator struct {
	j        Judge
	n        int
	c, h, w  int
	ref      Gaussian
	controls Controls
}

// NewEvaluator prepares scoring against real: after a shuffle seeded by
// seed, its first n images are the reference and the next n the control
// set (so real needs 2n images, for example the 10,000 Fashion-MNIST test
// images for n = 5,000); it scores the controls at once. Images are
// [N, H, W] in [0, 1], one channel. It returns an error if real is too
// small, n < ISSplits, or judging fails.
func NewEvaluator(ctx context.Context, j Judge, real *data.ImageSet, n int, seed uint64) (*Evaluator, error) {
	if n < ISSplits || real == nil || real.N < 2*n {
		have := 0
		if real != nil {
			have = real.N
		}
		return nil, fmt.Errorf("gan: evaluator: need 2·%d real images and n ≥ %d, have %d", n, ISSplits, have)
	}
	e := &Evaluator{j: j, n: n, c: 1, h: real.H, w: real.W}
	perm := rand.New(rand.NewPCG(seed, 0xe7a1)).Perm(real.N)
	per := real.H * real.W
	take := func(idx []int) []float32 {
		out := make([]float32, len(idx)*per)
		for i, k := range idx {
			copy(out[i*per:(i+1)*per], real.Image(k))
		}
		return out
	}
	feats, _, err := e.judge(ctx, take(perm[:n]))
	if err != nil {
		return nil, err
	}
	if e.ref, err = FitGaussian(feats, n, j.Dim()); err != nil {
		return nil, err
	}
	control := take(perm[n : 2*n])
	if e.controls.RealVsReal, err = e.Score(ctx, control); err != nil {
		return nil, err
	}
	noisy := append([]float32(nil), control...)
	rng := rand.New(rand.NewPCG(seed, 0x0015e))
	for i, v := range noisy {
		noisy[i] = min(max(v+float32(NoiseSigma*rng.NormFloat64()), 0), 1)
	}
	if e.controls.Noise, err = e.Score(ctx, noisy); err != nil {
		return nil, err
	}
	if e.controls.Blur, err = e.Score(ctx, Blur(control, n, real.H, real.W, BlurSigma)); err != nil {
		return nil, err
	}
	// One class: the control set's images of the first class present,
	// cycled to n images.
	label := real.Labels[perm[n]]
	var idx []int
	for _, k := range perm[n : 2*n] {
		if real.Labels[k] == label {
			idx = append(idx, k)
		}
	}
	cyc := make([]int, n)
	for i := range cyc {
		cyc[i] = idx[i%len(idx)]
	}
	if e.controls.OneClass, err = e.Score(ctx, take(cyc)); err != nil {
		return nil, err
	}
	return e, nil
}

// N returns the size of the sets the evaluator scores.
func (e *Evaluator) N() int { return e.n }

// Controls returns the controls' scores.
func (e *Evaluator) Controls() Controls { return e.controls }

func (e *Evaluator) judge(ctx context.Context, images []float32) (feats, probs []float32, err error) {
	feats, probs = make([]float32, e.n*e.j.Dim()), make([]float32, e.n*e.j.Classes())
	err = e.j.Judge(ctx, feats, probs, images, e.n)
	return feats, probs, err
}

// Score scores n images [n, 1, H, W] with pixels in [0, 1] (n = N()). It
// returns an error for a wrong number of values or if judging fails.
func (e *Evaluator) Score(ctx context.Context, images []float32) (Score, error) {
	if len(images) != e.n*e.c*e.h*e.w {
		return Score{}, fmt.Errorf("gan: score: %d values, want %d images of %d×%d", len(images), e.n, e.h, e.w)
	}
	feats, probs, err := e.judge(ctx, images)
	if err != nil {
		return Score{}, err
	}
	g, err := FitGaussian(feats, e.n, e.j.Dim())
	if err != nil {
		return Score{}, err
	}
	s := Score{N: e.n}
	if s.FID, err = FrechetDistance(g, e.ref); err != nil {
		return Score{}, err
	}
	if s.InceptionScore, s.InceptionScoreStd, err = InceptionScore(probs, e.n, e.j.Classes(), ISSplits); err != nil {
		return Score{}, err
	}
	s.ClassCounts = ClassCounts(probs, e.n, e.j.Classes())
	s.ClassesCovered = Coverage(s.ClassCounts)
	return s, nil
}

// ScoreModel scores N() images generated by m (an ArchDCGAN of the
// evaluator's image size) in evaluation mode from latent vectors seeded by
// seed.
func (e *Evaluator) ScoreModel(ctx context.Context, m *Model, seed uint64) (Score, error) {
	if c := m.Cfg; c.Arch != ArchDCGAN || c.ImageC != e.c || c.ImageH != e.h || c.ImageW != e.w {
		return Score{}, fmt.Errorf("gan: score: the model makes %v samples, the evaluator scores %d×%d×%d images", c.SampleShape(), e.c, e.h, e.w)
	}
	x, err := m.Samples(ctx, e.n, rand.New(rand.NewPCG(seed, 0x5c0e)))
	if err != nil {
		return Score{}, err
	}
	return e.Score(ctx, ToPixels(x.Data))
}

// ToPixels maps generator outputs in [−1, 1] to pixels in [0, 1] in place,
// (x + 1)/2 clipped, and returns x.
func ToPixels(x []float32) []float32 {
	for i, v := range x {
		x[i] = min(max((v+1)/2, 0), 1)
	}
	return x
}

// Blur returns n images [n, h, w] blurred by a Gaussian of standard
// deviation sigma pixels (kernel radius ⌈3σ⌉, renormalised at the borders).
func Blur(images []float32, n, h, w int, sigma float64) []float32 {
	r := int(math.Ceil(3 * sigma))
	k := make([]float64, 2*r+1)
	for i := range k {
		d := float64(i - r)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
	}
	out := make([]float32, len(images))
	tmp := make([]float32, h*w)
	pass := func(dst, src []float32, horizontal bool) {
		for y := range h {
			for x := range w {
				var s, ws float64
				for i, kv := range k {
					yy, xx := y, x
					if horizontal {
						xx += i - r
					} else {
						yy += i - r
					}
					if yy < 0 || yy >= h || xx < 0 || xx >= w {
						continue
					}
					s += kv * float64(src[yy*w+xx])
					ws += kv
				}
				dst[y*w+x] = float32(s / ws)
			}
		}
	}
	for b := range n {
		img := images[b*h*w : (b+1)*h*w]
		pass(tmp, img, true)
		pass(out[b*h*w:(b+1)*h*w], tmp, false)
	}
	return out
}
