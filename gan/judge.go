package gan

import (
	"context"
	"fmt"

	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// A Judge maps images to what the quality metrics are computed on: feature
// vectors for the Fréchet distance and class probabilities for the
// Inception-style score and class coverage. It stands where the Inception
// network stands in FID and IS.
type Judge interface {
	// Dim is the feature dimension and Classes the number of classes.
	Dim() int
	Classes() int
	// Judge writes the features [n, Dim()] and class probabilities
	// [n, Classes()] of n images [n, C, H, W] with pixels in [0, 1].
	Judge(ctx context.Context, features, probs, images []float32, n int) error
}

// A GradJudge is a Judge that can also differentiate: the gradient of a
// class's log-probability with respect to the images, for attribution.
type GradJudge interface {
	Judge
	// ClassGrad writes ∂ log p(class | image)/∂image for n images
	// [n, C, H, W] into dst (same shape, overwritten).
	ClassGrad(ctx context.Context, dst, images []float32, n, class int) error
}

// ClassifierJudge is a Judge made of a trained cnn classifier: its
// features are the activation at one hook point, average-pooled to a
// Grid×Grid map per channel (PyTorch's AdaptiveAvgPool2d), and its
// probabilities the softmax of its logits. It runs the classifier in
// evaluation mode and is safe for concurrent use.
type ClassifierJudge struct {
	m     *cnn.Model
	point hooks.Name
	shape []int // [C, H, W] at point
	grid  int
	batch int
}

// JudgeBatch is the number of images a ClassifierJudge runs at once.
const JudgeBatch = 250

// DefaultJudgeGrid pools each channel of the judge's feature map to 2×2:
// 128 features for the Fashion-MNIST classifier (32 channels at 7×7). The
// Fréchet distance needs an eigen-decomposition of a d×d matrix and a
// covariance estimated from a few thousand samples, which keeps d in the
// hundreds; the classifier's 1,568 flattened features would take gonum half
// a minute per distance.
const DefaultJudgeGrid = 2

// NewClassifierJudge returns a judge reading features at point, pooled to
// grid×grid. An empty point selects the last feature map ([C, H, W]) before
// the classifier's head — the input of its linear layer; grid ≤ 0 selects
// DefaultJudgeGrid. It returns an error for an unknown point, a point that
// is not a feature map, or a grid larger than the map.
func NewClassifierJudge(m *cnn.Model, point hooks.Name, grid int) (*ClassifierJudge, error) {
	if grid <= 0 {
		grid = DefaultJudgeGrid
	}
	var shape []int
	if point == "" {
		for _, p := range m.Points() {
			if len(p.Shape) == 3 && p.Name != cnn.InputPoint {
				point, shape = p.Name, p.Shape
			}
		}
	} else {
		s, ok := m.PointShape(point)
		if !ok {
			_, err := m.ParseHook(string(point))
			return nil, err
		}
		shape = s
	}
	if len(shape) != 3 {
		return nil, fmt.Errorf("gan: judge: point %q has shape %v, want a feature map [C, H, W]", point, shape)
	}
	if grid > shape[1] || grid > shape[2] {
		return nil, fmt.Errorf("gan: judge: a %d×%d grid does not fit the %d×%d map at %q", grid, grid, shape[1], shape[2], point)
	}
	return &ClassifierJudge{m: m, point: point, shape: shape, grid: grid, batch: JudgeBatch}, nil
}

// Point returns the hook point the features are read at.
func (j *ClassifierJudge) Point() hooks.Name { return j.point }

// Dim implements Judge: C·grid².
func (j *ClassifierJudge) Dim() int { return j.shape[0] * j.grid * j.grid }

// Classes implements Judge.
func (j *ClassifierJudge) Classes() int { return j.m.Cfg.NClasses }

// Judge implements Judge. It returns an error if a slice has the wrong
// length or ctx is cancelled.
func (j *ClassifierJudge) Judge(ctx context.Context, features, probs, images []float32, n int) error {
	c := j.m.Cfg
	per := c.InC * c.InH * c.InW
	if n < 1 || len(images) != n*per || len(features) != n*j.Dim() || len(probs) != n*c.NClasses {
		return fmt.Errorf("gan: judge: %d images, %d features and %d probabilities for %d images of %d×%d×%d",
			len(images), len(features), len(probs), n, c.InC, c.InH, c.InW)
	}
	var full, tail *cnn.Workspace
	for lo := 0; lo < n; lo += j.batch {
		hi := min(lo+j.batch, n)
		ws := full
		if hi-lo < j.batch {
			if tail == nil {
				tail = j.m.NewWorkspace(hi - lo)
			}
			ws = tail
		} else if full == nil {
			full = j.m.NewWorkspace(j.batch)
			ws = full
		}
		if err := ws.Forward(ctx, images[lo*per:hi*per], cnn.Pass{}, nil); err != nil {
			return err
		}
		act, ok := ws.Act(j.point)
		if !ok {
			return fmt.Errorf("gan: judge: no activation at %q", j.point)
		}
		j.pool(features[lo*j.Dim():hi*j.Dim()], act.Data, hi-lo)
		k := c.NClasses
		logits := ws.Logits().Data
		for i := range hi - lo {
			tensor.Softmax(probs[(lo+i)*k:(lo+i+1)*k], logits[i*k:(i+1)*k], k)
		}
	}
	return nil
}

// pool average-pools act [n, C, H, W] to dst [n, C, grid, grid] with
// PyTorch's adaptive windows [⌊i·H/g⌋, ⌈(i+1)·H/g⌉).
func (j *ClassifierJudge) pool(dst, act []float32, n int) {
	C, H, W, g := j.shape[0], j.shape[1], j.shape[2], j.grid
	o := 0
	for b := range n {
		for ch := range C {
			plane := act[(b*C+ch)*H*W : (b*C+ch+1)*H*W]
			for gi := range g {
				y0, y1 := gi*H/g, ((gi+1)*H+g-1)/g
				for gj := range g {
					x0, x1 := gj*W/g, ((gj+1)*W+g-1)/g
					var s float64
					for y := y0; y < y1; y++ {
						for x := x0; x < x1; x++ {
							s += float64(plane[y*W+x])
						}
					}
					dst[o] = float32(s / float64((y1-y0)*(x1-x0)))
					o++
				}
			}
		}
	}
}

// ClassGrad implements GradJudge by back-propagating onehot(class) − p, the
// gradient of log p(class) with respect to the logits, through the
// classifier (evaluation mode) to its input.
func (j *ClassifierJudge) ClassGrad(ctx context.Context, dst, images []float32, n, class int) error {
	c := j.m.Cfg
	per, k := c.InC*c.InH*c.InW, c.NClasses
	if n < 1 || len(images) != n*per || len(dst) != n*per || class < 0 || class >= k {
		return fmt.Errorf("gan: judge gradient: %d images and %d gradients for %d images of %d values, class %d of %d",
			len(images), len(dst), n, per, class, k)
	}
	var ws *cnn.Workspace
	dlogits := make([]float32, min(j.batch, n)*k)
	for lo := 0; lo < n; lo += j.batch {
		hi := min(lo+j.batch, n)
		if ws == nil || ws.Batch() != hi-lo {
			ws = j.m.NewWorkspace(hi - lo)
		}
		if err := ws.Forward(ctx, images[lo*per:hi*per], cnn.Pass{}, nil); err != nil {
			return err
		}
		logits := ws.Logits().Data
		d := dlogits[:(hi-lo)*k]
		for i := range hi - lo {
			tensor.Softmax(d[i*k:(i+1)*k], logits[i*k:(i+1)*k], k)
			tensor.Scale(-1, d[i*k:(i+1)*k])
			d[i*k+class]++
		}
		out := dst[lo*per : hi*per]
		grab := hooks.NewSet().AddBackward(cnn.InputPoint, func(g *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
			copy(out, g.Data)
			return nil
		})
		if err := ws.BackwardFrom(d, nil, grab); err != nil {
			return err
		}
	}
	return nil
}
