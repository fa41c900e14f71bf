package gan

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// Dissection thresholds.
const (
	// DissectQuantile is the share of a unit's upsampled activations, over
	// every sample and pixel, that counts as "on": GAN Dissection keeps the
	// top 1 % on 256×256 scenes; a 28×28 garment covers about half the
	// image, so the top 10 % is a region the size of a part of it.
	DissectQuantile = 0.10
	// ForegroundLevel is the pixel value (in [0, 1]) above which a pixel
	// belongs to the garment; Fashion-MNIST's background is 0.
	ForegroundLevel = 0.25
)

// isTop reports whether Fashion-MNIST class c is a top: T-shirt/top,
// pullover, coat or shirt.
func isTop(c int) bool { return c == 0 || c == 2 || c == 4 || c == 6 }

// isFootwear reports whether Fashion-MNIST class c is footwear: sandal,
// sneaker or ankle boot.
func isFootwear(c int) bool { return c == 5 || c == 7 || c == 9 }

// Region concepts (Dissection.Concepts after the classes), derived from
// each generated sample's pixels and the class the judge assigns it.
const (
	// ConceptSleeves: the garment's pixels in the outer thirds of the
	// columns (x < W/3 or x ≥ 2W/3) on samples judged a top (T-shirt,
	// pullover, coat or shirt) — where the sleeves are, beside the torso.
	ConceptSleeves = "sleeves"
	// ConceptSoles: the garment's pixels in the lowest quarter of its rows
	// (of the garment's own bounding box) on samples judged footwear
	// (sandal, sneaker, ankle boot).
	ConceptSoles = "soles"
	// ConceptBackground: the pixels that are not the garment, on every
	// sample.
	ConceptBackground = "background"
)

// Dissection measures how each unit of a generator feature map lines up
// with concepts we can label on its samples (Bau et al. 2019, "GAN
// Dissection"): the IoU of the unit's thresholded, bilinearly upsampled
// activation map with a concept's mask, summed over the samples,
//
//	IoU(u, c) = Σ_x |{A_u(x)↑ > t_u} ∧ S_c(x)| / Σ_x |{A_u(x)↑ > t_u} ∨ S_c(x)|
//
// where t_u is the (1 − DissectQuantile) quantile of A_u↑ over all samples
// and pixels. The concepts are the judge's classes — S_c(x) is the
// garment's pixels (above ForegroundLevel) on samples judged class c, empty
// on the others — and, for a ten-class (Fashion-MNIST) judge, the regions
// ConceptSleeves, ConceptSoles and ConceptBackground.
type Dissection struct {
	Point    hooks.Name
	N        int
	Concepts []string    // class names are given by the caller
	IoU      [][]float64 // [unit][concept]
	Thresh   []float64   // t_u per unit
	Classes  []int       // [n] the judge's class of each sample
	// Maps are the unit activations [n, units, h, w] at Point and Images
	// the samples [n, C, H, W] in [0, 1].
	Maps   *tensor.Tensor
	Images *tensor.Tensor
}

// Best returns the units ranked by their IoU with concept c, highest first.
func (d *Dissection) Best(c int) []UnitScore {
	out := make([]UnitScore, len(d.IoU))
	for u, row := range d.IoU {
		out[u] = UnitScore{Unit: u, Score: row[c]}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

// Dissect generates images from n latent vectors z [n, z_dim], judges
// them, and measures the IoU of every unit at point with every concept
// (see Dissection). classNames names the judge's classes. It returns an
// error for a point that is not a generator feature map or bad sizes.
func (m *Model) Dissect(ctx context.Context, j Judge, point hooks.Name, z []float32, n int, classNames []string) (*Dissection, error) {
	shape, err := m.generatorMap(point)
	if err != nil {
		return nil, err
	}
	if n < 1 || len(z) != n*m.Cfg.ZDim {
		return nil, fmt.Errorf("gan: dissect: %d latent values for %d vectors of %d", len(z), n, m.Cfg.ZDim)
	}
	k := j.Classes()
	if len(classNames) != k {
		return nil, fmt.Errorf("gan: dissect: %d class names for %d classes", len(classNames), k)
	}
	units, h, w := shape[0], shape[1], shape[2]
	maps := tensor.New(n, units, h, w)
	next := 0
	record := hooks.NewSet().Add(point, func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		copy(maps.Data[next*units*h*w:], a.Data)
		next += a.Shape[0]
		return nil
	})
	images, err := m.generateChunked(ctx, z, n, record)
	if err != nil {
		return nil, err
	}
	ToPixels(images.Data)
	probs := make([]float32, n*k)
	if err := j.Judge(ctx, make([]float32, n*j.Dim()), probs, images.Data, n); err != nil {
		return nil, err
	}
	d := &Dissection{Point: point, N: n, Concepts: slices.Clone(classNames), Maps: maps, Images: images}
	for i := range n {
		d.Classes = append(d.Classes, argmax(probs[i*k:(i+1)*k]))
	}
	regions := k == 10
	if regions {
		d.Concepts = append(d.Concepts, ConceptSleeves, ConceptSoles, ConceptBackground)
	}
	H, W := m.Cfg.ImageH, m.Cfg.ImageW
	ch := m.Cfg.ImageC
	// masks[i][c] is sample i's mask of concept c, [H·W].
	masks := make([][][]bool, n)
	for i := range n {
		fg := make([]bool, H*W)
		px := images.Data[i*ch*H*W : (i+1)*ch*H*W]
		for p := range fg {
			fg[p] = px[p] > ForegroundLevel // the first channel
		}
		masks[i] = make([][]bool, len(d.Concepts))
		masks[i][d.Classes[i]] = fg
		if regions {
			masks[i][k] = sleeves(fg, H, W, d.Classes[i])
			masks[i][k+1] = soles(fg, H, W, d.Classes[i])
			bg := make([]bool, H*W)
			for p, f := range fg {
				bg[p] = !f
			}
			masks[i][k+2] = bg
		}
	}
	up := make([]float32, n*H*W)
	inter, union := make([]float64, len(d.Concepts)), make([]float64, len(d.Concepts))
	for u := range units {
		for i := range n {
			upsample(up[i*H*W:(i+1)*H*W], maps.Data[(i*units+u)*h*w:(i*units+u+1)*h*w], h, w, H, W)
		}
		t := quantile(up, 1-DissectQuantile)
		d.Thresh = append(d.Thresh, t)
		clear(inter)
		clear(union)
		for i := range n {
			for c, mk := range masks[i] {
				for p, v := range up[i*H*W : (i+1)*H*W] {
					on, in := v > float32(t), mk != nil && mk[p]
					if on && in {
						inter[c]++
					}
					if on || in {
						union[c]++
					}
				}
			}
		}
		row := make([]float64, len(d.Concepts))
		for c := range row {
			if union[c] > 0 {
				row[c] = inter[c] / union[c]
			}
		}
		d.IoU = append(d.IoU, row)
	}
	return d, nil
}

// sleeves is ConceptSleeves' mask of one sample.
func sleeves(fg []bool, h, w, class int) []bool {
	if !isTop(class) {
		return nil
	}
	out := make([]bool, h*w)
	for p, f := range fg {
		x := p % w
		out[p] = f && (3*x < w || 3*x >= 2*w)
	}
	return out
}

// soles is ConceptSoles' mask of one sample.
func soles(fg []bool, h, w, class int) []bool {
	if !isFootwear(class) {
		return nil
	}
	top, bottom := h, -1
	for p, f := range fg {
		if f {
			top, bottom = min(top, p/w), max(bottom, p/w)
		}
	}
	if bottom < 0 {
		return nil
	}
	cut := bottom - (bottom-top+1)/4 // rows after cut are the lowest quarter
	out := make([]bool, h*w)
	for p, f := range fg {
		out[p] = f && p/w > cut
	}
	return out
}

// upsample writes the bilinear upsampling of src [h, w] to dst [H, W],
// pixel centres aligned (PyTorch's align_corners=False).
func upsample(dst, src []float32, h, w, H, W int) {
	for y := range H {
		sy := max((float64(y)+0.5)*float64(h)/float64(H)-0.5, 0)
		y0 := min(int(sy), h-1)
		y1, fy := min(y0+1, h-1), float32(sy-float64(y0))
		for x := range W {
			sx := max((float64(x)+0.5)*float64(w)/float64(W)-0.5, 0)
			x0 := min(int(sx), w-1)
			x1, fx := min(x0+1, w-1), float32(sx-float64(x0))
			top := src[y0*w+x0]*(1-fx) + src[y0*w+x1]*fx
			bot := src[y1*w+x0]*(1-fx) + src[y1*w+x1]*fx
			dst[y*W+x] = top*(1-fy) + bot*fy
		}
	}
}

// quantile returns the q-quantile of x (nearest rank), x unchanged.
func quantile(x []float32, q float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	i := min(len(s)-1, max(0, int(math.Ceil(q*float64(len(s))))-1))
	return float64(s[i])
}
