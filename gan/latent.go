package gan

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/mechinterp/workbench/tensor"
)

// Lerp returns steps ≥ 2 latent vectors evenly spaced on the segment from
// z0 to z1, both included: [steps, len(z0)]. It returns an error if the
// vectors differ in length or steps < 2.
func Lerp(z0, z1 []float32, steps int) (*tensor.Tensor, error) {
	return interpolate(z0, z1, steps, false)
}

// Slerp returns steps ≥ 2 latent vectors along the great-circle arc from z0
// to z1 (Shoemake 1985; recommended for GAN latents by White 2016, since a
// straight line between two Gaussian samples passes through the low-norm
// region the generator rarely saw):
//
//	slerp(t) = sin((1−t)Ω)/sin Ω · z0 + sin(tΩ)/sin Ω · z1,  cos Ω = ẑ0·ẑ1
//
// falling back to Lerp when z0 and z1 are (anti)parallel within 1e-6.
func Slerp(z0, z1 []float32, steps int) (*tensor.Tensor, error) {
	return interpolate(z0, z1, steps, true)
}

func interpolate(z0, z1 []float32, steps int, spherical bool) (*tensor.Tensor, error) {
	if len(z0) == 0 || len(z0) != len(z1) || steps < 2 {
		return nil, fmt.Errorf("gan: interpolate: endpoints of length %d and %d, %d steps (need equal lengths and ≥ 2 steps)", len(z0), len(z1), steps)
	}
	d := len(z0)
	out := tensor.New(steps, d)
	n0, n1 := math.Sqrt(tensor.Dot(z0, z0)), math.Sqrt(tensor.Dot(z1, z1))
	cos := tensor.Dot(z0, z1) / (n0 * n1)
	omega := math.Acos(max(-1, min(1, cos)))
	linear := !spherical || n0 == 0 || n1 == 0 || math.Sin(omega) < 1e-6
	for s := range steps {
		t := float64(s) / float64(steps-1)
		a, b := 1-t, t
		if !linear {
			a, b = math.Sin((1-t)*omega)/math.Sin(omega), math.Sin(t*omega)/math.Sin(omega)
		}
		row := out.Data[s*d : (s+1)*d]
		for i := range row {
			row[i] = float32(a*float64(z0[i]) + b*float64(z1[i]))
		}
	}
	return out, nil
}

// Walk is a latent interpolation and what the generator makes of it.
type Walk struct {
	Z      *tensor.Tensor `json:"-"` // [steps, z_dim]
	Images *tensor.Tensor `json:"-"` // [steps, C, H, W], pixels in [0, 1]
	Probs  *tensor.Tensor `json:"-"` // [steps, classes], the judge's probabilities
	// Classes is the judge's top class per step.
	Classes []int `json:"classes"`
	// ZNorm is ‖z‖ per step: a linear walk between two samples dips to
	// about 1/√2 of their norm midway, a spherical one does not.
	ZNorm []float64 `json:"z_norm"`
	// StepDistance is the RMS pixel difference between consecutive images
	// (steps − 1 values): a smooth walk changes the image gradually.
	StepDistance []float64 `json:"step_distance"`
}

// Walk generates images (evaluation mode) along a linear or spherical
// interpolation of steps latent vectors from z0 to z1 and judges them. The
// model must make images (ArchDCGAN).
func (m *Model) Walk(ctx context.Context, j Judge, z0, z1 []float32, steps int, spherical bool) (Walk, error) {
	if m.Cfg.Arch != ArchDCGAN {
		return Walk{}, fmt.Errorf("gan: walk: the model makes %v samples, not images", m.Cfg.SampleShape())
	}
	if len(z0) != m.Cfg.ZDim {
		return Walk{}, fmt.Errorf("gan: walk: latent vectors have %d values, the model %d", len(z0), m.Cfg.ZDim)
	}
	z, err := interpolate(z0, z1, steps, spherical)
	if err != nil {
		return Walk{}, err
	}
	w := Walk{Z: z}
	if w.Images, w.Probs, err = m.generateJudged(ctx, j, z.Data, steps); err != nil {
		return Walk{}, err
	}
	k := j.Classes()
	per := m.Cfg.SampleSize()
	for s := range steps {
		w.Classes = append(w.Classes, argmax(w.Probs.Data[s*k:(s+1)*k]))
		row := z.Data[s*m.Cfg.ZDim : (s+1)*m.Cfg.ZDim]
		w.ZNorm = append(w.ZNorm, math.Sqrt(tensor.Dot(row, row)))
		if s > 0 {
			a, b := w.Images.Data[(s-1)*per:s*per], w.Images.Data[s*per:(s+1)*per]
			var d float64
			for i := range a {
				d += float64(a[i]-b[i]) * float64(a[i]-b[i])
			}
			w.StepDistance = append(w.StepDistance, math.Sqrt(d/float64(per)))
		}
	}
	return w, nil
}

// generateJudged generates n images from z [n, z_dim] in evaluation mode
// (pixels in [0, 1]) and returns them with the judge's probabilities.
func (m *Model) generateJudged(ctx context.Context, j Judge, z []float32, n int) (images, probs *tensor.Tensor, err error) {
	if images, err = m.generateChunked(ctx, z, n, nil); err != nil {
		return nil, nil, err
	}
	ToPixels(images.Data)
	probs = tensor.New(n, j.Classes())
	if err := j.Judge(ctx, make([]float32, n*j.Dim()), probs.Data, images.Data, n); err != nil {
		return nil, nil, err
	}
	return images, probs, nil
}

// ClassMeans are the mean latent vectors of the samples a judge assigns to
// each class: the "class vectors" of latent arithmetic (Radford et al. 2016,
// §6.3, averaged over samples as there, with the classifier doing the
// labelling).
type ClassMeans struct {
	Means  [][]float32 `json:"-"`      // [classes][z_dim]; nil for a class with no sample
	Counts []int       `json:"counts"` // samples assigned to each class
}

// ClassMeans draws n latent vectors from rng, generates and judges them,
// and averages the latent vectors of each class among the samples whose top
// probability is at least minProb.
func (m *Model) ClassMeans(ctx context.Context, j Judge, n int, minProb float64, rng *rand.Rand) (ClassMeans, error) {
	if m.Cfg.Arch != ArchDCGAN || n < 1 {
		return ClassMeans{}, fmt.Errorf("gan: class means need an image GAN and n ≥ 1 (got %s, %d)", m.Cfg.Arch, n)
	}
	zd, k := m.Cfg.ZDim, j.Classes()
	z := make([]float32, n*zd)
	SampleZ(z, rng)
	_, probs, err := m.generateJudged(ctx, j, z, n)
	if err != nil {
		return ClassMeans{}, err
	}
	cm := ClassMeans{Means: make([][]float32, k), Counts: make([]int, k)}
	sums := make([][]float64, k)
	for i := range n {
		p := probs.Data[i*k : (i+1)*k]
		c := argmax(p)
		if float64(p[c]) < minProb {
			continue
		}
		if sums[c] == nil {
			sums[c] = make([]float64, zd)
		}
		for d, v := range z[i*zd : (i+1)*zd] {
			sums[c][d] += float64(v)
		}
		cm.Counts[c]++
	}
	for c, s := range sums {
		if s == nil {
			continue
		}
		cm.Means[c] = make([]float32, zd)
		for d, v := range s {
			cm.Means[c][d] = float32(v / float64(cm.Counts[c]))
		}
	}
	return cm, nil
}

// Arithmetic is the result of moving latent vectors of one class by the
// difference of two class means, beside the control of a random direction
// of the same length.
type Arithmetic struct {
	From int `json:"from_class"`
	To   int `json:"to_class"`
	N    int `json:"n"`
	// DirectionNorm is ‖mean_to − mean_from‖.
	DirectionNorm float64 `json:"direction_norm"`
	// Success is the fraction of z + (mean_to − mean_from) judged class
	// To; ControlSuccess that of z + r with r a random direction of the
	// same norm (one per sample); BaseRate that of z itself (0 by
	// construction: every z was judged From).
	Success        float64 `json:"success"`
	ControlSuccess float64 `json:"control_success"`
	BaseRate       float64 `json:"base_rate"`
	// TargetProb and ControlTargetProb are the mean probabilities of To.
	TargetProb        float64 `json:"target_prob"`
	ControlTargetProb float64 `json:"control_target_prob"`
	// StillFrom is the fraction of z + direction still judged From.
	StillFrom float64 `json:"still_from"`

	Images        *tensor.Tensor `json:"-"` // [n, C, H, W] from z + direction
	ControlImages *tensor.Tensor `json:"-"` // [n, C, H, W] from z + r
	Originals     *tensor.Tensor `json:"-"` // [n, C, H, W] from z
}

// maxDraws bounds the latent vectors Arithmetic and UnitAblation draw
// looking for samples of a class, as a multiple of the samples wanted.
const maxDraws = 50

// samplesOfClass draws latent vectors from rng until n are judged class c
// (top prediction), or returns an error after maxDraws·n draws.
func (m *Model) samplesOfClass(ctx context.Context, j Judge, c, n int, rng *rand.Rand) ([]float32, error) {
	zd, k := m.Cfg.ZDim, j.Classes()
	var out []float32
	buf := make([]float32, sampleChunk*zd)
	for drawn := 0; len(out) < n*zd; drawn += sampleChunk {
		if drawn >= maxDraws*n {
			return nil, fmt.Errorf("gan: %d of %d samples judged class %d in %d draws: the generator rarely makes it", len(out)/zd, n, c, drawn)
		}
		SampleZ(buf, rng)
		_, probs, err := m.generateJudged(ctx, j, buf, sampleChunk)
		if err != nil {
			return nil, err
		}
		for i := range sampleChunk {
			if argmax(probs.Data[i*k:(i+1)*k]) == c && len(out) < n*zd {
				out = append(out, buf[i*zd:(i+1)*zd]...)
			}
		}
	}
	return out, nil
}

// Arithmetic draws n latent vectors judged class from, adds the class-mean
// difference means[to] − means[from], and reports how often the judge then
// sees class to, against the control of a random direction of the same norm.
func (m *Model) Arithmetic(ctx context.Context, j Judge, means ClassMeans, from, to, n int, rng *rand.Rand) (Arithmetic, error) {
	k := j.Classes()
	if from < 0 || to < 0 || from >= k || to >= k || from == to || n < 1 {
		return Arithmetic{}, fmt.Errorf("gan: arithmetic: classes %d → %d of %d and n = %d", from, to, k, n)
	}
	if from >= len(means.Means) || to >= len(means.Means) || means.Means[from] == nil || means.Means[to] == nil {
		return Arithmetic{}, fmt.Errorf("gan: arithmetic: no class mean for class %d or %d", from, to)
	}
	zd := m.Cfg.ZDim
	dir := make([]float32, zd)
	for i := range dir {
		dir[i] = means.Means[to][i] - means.Means[from][i]
	}
	norm := math.Sqrt(tensor.Dot(dir, dir))
	z, err := m.samplesOfClass(ctx, j, from, n, rng)
	if err != nil {
		return Arithmetic{}, err
	}
	moved, control := slices.Clone(z), slices.Clone(z)
	r := make([]float32, zd)
	for i := range n {
		tensor.Axpy(1, dir, moved[i*zd:(i+1)*zd])
		SampleZ(r, rng)
		tensor.Axpy(float32(norm/math.Sqrt(tensor.Dot(r, r))), r, control[i*zd:(i+1)*zd])
	}
	a := Arithmetic{From: from, To: to, N: n, DirectionNorm: norm}
	var pm, pc, p0 *tensor.Tensor
	if a.Images, pm, err = m.generateJudged(ctx, j, moved, n); err != nil {
		return Arithmetic{}, err
	}
	if a.ControlImages, pc, err = m.generateJudged(ctx, j, control, n); err != nil {
		return Arithmetic{}, err
	}
	if a.Originals, p0, err = m.generateJudged(ctx, j, z, n); err != nil {
		return Arithmetic{}, err
	}
	for i := range n {
		rm, rc, r0 := pm.Data[i*k:(i+1)*k], pc.Data[i*k:(i+1)*k], p0.Data[i*k:(i+1)*k]
		a.Success += indicator(argmax(rm) == to)
		a.ControlSuccess += indicator(argmax(rc) == to)
		a.BaseRate += indicator(argmax(r0) == to)
		a.StillFrom += indicator(argmax(rm) == from)
		a.TargetProb += float64(rm[to])
		a.ControlTargetProb += float64(rc[to])
	}
	f := 1 / float64(n)
	a.Success, a.ControlSuccess, a.BaseRate, a.StillFrom = a.Success*f, a.ControlSuccess*f, a.BaseRate*f, a.StillFrom*f
	a.TargetProb, a.ControlTargetProb = a.TargetProb*f, a.ControlTargetProb*f
	return a, nil
}

func indicator(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
