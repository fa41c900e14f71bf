package sae

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/mechinterp/workbench/tensor"
)

// The activation functions of a dictionary (SAELens's "architecture").
const (
	ReLU      = "relu"      // ReLU with an L1 penalty (SAELens "standard")
	TopK      = "topk"      // the k largest pre-activations of each row (Gao et al. 2024)
	BatchTopK = "batchtopk" // the batch·k largest pre-activations of the batch (Bussmann et al. 2024); TopK-like at inference
	JumpReLU  = "jumprelu"  // pre·H(pre − θ) with a learned threshold per feature (Rajamanoharan et al. 2024)
)

// Config describes a dictionary: its sizes, activation and where it reads.
// The JSON names are SAELens's where it has them.
type Config struct {
	DIn        int    `json:"d_in"`
	DSAE       int    `json:"d_sae"`
	Activation string `json:"architecture"`
	K          int    `json:"k,omitempty"` // TopK and BatchTopK: active features per row
	// HookName is the hook point whose activations it encodes (or, for a
	// transcoder, reads); HookNameOut is a transcoder's target.
	HookName    string `json:"hook_name,omitempty"`
	HookNameOut string `json:"hook_name_out,omitempty"`
	// Transcoder marks a dictionary trained to predict HookNameOut from
	// HookName rather than to reconstruct its input.
	Transcoder bool `json:"transcoder,omitempty"`
}

// ErrConfig is wrapped by the errors of invalid configs.
var ErrConfig = errors.New("sae: invalid config")

// Validate reports every problem of c, wrapping ErrConfig.
func (c Config) Validate() error {
	var errs []error
	if c.DIn < 1 || c.DSAE < 1 {
		errs = append(errs, fmt.Errorf("d_in %d and d_sae %d must be positive", c.DIn, c.DSAE))
	}
	if c.DIn > 1<<16 || c.DSAE > 1<<22 || c.DIn*c.DSAE > 1<<30 {
		errs = append(errs, fmt.Errorf("d_in %d × d_sae %d is beyond what this package allocates", c.DIn, c.DSAE))
	}
	switch c.Activation {
	case ReLU, JumpReLU:
		if c.K != 0 {
			errs = append(errs, fmt.Errorf("k %d applies to topk and batchtopk only", c.K))
		}
	case TopK, BatchTopK:
		if c.K < 1 || c.K > c.DSAE {
			errs = append(errs, fmt.Errorf("k %d must be in [1, d_sae %d]", c.K, c.DSAE))
		}
	default:
		errs = append(errs, fmt.Errorf("architecture %q: want %s, %s, %s or %s", c.Activation, ReLU, TopK, BatchTopK, JumpReLU))
	}
	if c.Transcoder && (c.HookNameOut == "" || c.HookName == "") {
		errs = append(errs, fmt.Errorf("a transcoder names hook_name and hook_name_out"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return nil
}

// SAE is a sparse dictionary: an encoder W_enc [d_in, d_sae], b_enc
// [d_sae], a decoder W_dec [d_sae, d_in] whose rows are the features'
// directions, b_dec [d_in], and for JumpReLU a threshold per feature:
//
//	pre = (x − b_dec)·W_enc + b_enc      (a transcoder does not subtract b_dec)
//	f   = act(pre)
//	x̂   = f·W_dec + b_dec
type SAE struct {
	Cfg       Config
	WEnc      []float32
	BEnc      []float32
	WDec      []float32
	BDec      []float32
	Threshold []float32 // JumpReLU only
}

// New returns a dictionary of config c: decoder rows random unit vectors
// from seed, the encoder their transpose (tied initialisation), biases
// zero, JumpReLU thresholds 1e-3.
func New(c Config, seed uint64) (*SAE, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &SAE{Cfg: c, WEnc: make([]float32, c.DIn*c.DSAE), BEnc: make([]float32, c.DSAE),
		WDec: make([]float32, c.DSAE*c.DIn), BDec: make([]float32, c.DIn)}
	if c.Activation == JumpReLU {
		s.Threshold = make([]float32, c.DSAE)
		for i := range s.Threshold {
			s.Threshold[i] = 1e-3
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x5ae))
	for i := range s.WDec {
		s.WDec[i] = float32(rng.NormFloat64())
	}
	s.NormalizeDecoder()
	for j := range c.DSAE {
		for i := range c.DIn {
			s.WEnc[i*c.DSAE+j] = s.WDec[j*c.DIn+i]
		}
	}
	return s, nil
}

// NormalizeDecoder scales every decoder row to unit norm (a zero row is
// left zero).
func (s *SAE) NormalizeDecoder() {
	d := s.Cfg.DIn
	for j := range s.Cfg.DSAE {
		row := s.WDec[j*d : (j+1)*d]
		n := math.Sqrt(tensor.Dot(row, row))
		if n > 0 {
			tensor.Scale(float32(1/n), row)
		}
	}
}

// PreActivations writes pre [rows, d_sae] for x [rows, d_in]; xc [rows,
// d_in] is scratch that receives x − b_dec.
func (s *SAE) PreActivations(pre, xc, x []float32, rows int) {
	c := s.Cfg
	copy(xc, x[:rows*c.DIn])
	if !c.Transcoder {
		for r := range rows {
			tensor.Axpy(-1, s.BDec, xc[r*c.DIn:(r+1)*c.DIn])
		}
	}
	for r := range rows {
		copy(pre[r*c.DSAE:(r+1)*c.DSAE], s.BEnc)
	}
	tensor.Gemm(false, false, rows, c.DSAE, c.DIn, 1, xc, c.DIn, s.WEnc, c.DSAE, 1, pre, c.DSAE)
}

// Activate writes f = act(pre) [rows, d_sae] and returns the number of
// non-zero entries. scratch holds at least d_sae values for TopK and
// rows·d_sae for BatchTopK. BatchTopK keeps the rows·k largest positive
// pre-activations of the whole batch in training, and is TopK in
// inference (batch false).
func (s *SAE) Activate(f, pre []float32, rows int, training bool, scratch []float32) int {
	c := s.Cfg
	n := rows * c.DSAE
	nz := 0
	switch {
	case c.Activation == ReLU:
		for i, v := range pre[:n] {
			f[i] = max(v, 0)
			if v > 0 {
				nz++
			}
		}
	case c.Activation == JumpReLU:
		for i, v := range pre[:n] {
			f[i] = 0
			if v > s.Threshold[i%c.DSAE] {
				f[i] = v
				nz++
			}
		}
	case c.Activation == BatchTopK && training:
		nz = keepLargest(f[:n], pre[:n], rows*c.K, scratch)
	default: // TopK, and BatchTopK at inference
		for r := range rows {
			nz += keepLargest(f[r*c.DSAE:(r+1)*c.DSAE], pre[r*c.DSAE:(r+1)*c.DSAE], c.K, scratch)
		}
	}
	return nz
}

// keepLargest writes into f the k largest positive values of pre (ties at
// the threshold all kept) and zeros elsewhere; it returns how many it kept.
func keepLargest(f, pre []float32, k int, scratch []float32) int {
	if k >= len(pre) {
		nz := 0
		for i, v := range pre {
			f[i] = max(v, 0)
			if v > 0 {
				nz++
			}
		}
		return nz
	}
	var th float32
	if k*16 <= len(pre) {
		th = kthLargestHeap(pre, k, scratch[:k])
	} else {
		tmp := scratch[:len(pre)]
		copy(tmp, pre)
		th = kthLargest(tmp, k) // the k-th largest by selection: the threshold
	}
	nz := 0
	for i, v := range pre {
		f[i] = 0
		if v >= th && v > 0 && nz < k {
			f[i] = v
			nz++
		}
	}
	return nz
}

// kthLargestHeap returns the k-th largest value of v (1 ≤ k ≤ len(v)) in
// one pass, holding the k largest seen in a min-heap in h (k values).
func kthLargestHeap(v []float32, k int, h []float32) float32 {
	copy(h, v[:k])
	for i := k/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	for _, x := range v[k:] {
		if x > h[0] {
			h[0] = x
			siftDown(h, 0)
		}
	}
	return h[0]
}

// siftDown restores the min-heap order of h below i.
func siftDown(h []float32, i int) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && h[c+1] < h[c] {
			c++
		}
		if h[i] <= h[c] {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// kthLargest returns the k-th largest value of v (1-based), reordering v.
func kthLargest(v []float32, k int) float32 {
	lo, hi, target := 0, len(v)-1, k-1
	for lo < hi {
		p := v[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for v[i] > p {
				i++
			}
			for v[j] < p {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case target <= j:
			hi = j
		case target >= i:
			lo = i
		default:
			return v[target]
		}
	}
	return v[target]
}

// Decode writes x̂ = f·W_dec + b_dec [rows, d_in].
func (s *SAE) Decode(xhat, f []float32, rows int) {
	c := s.Cfg
	for r := range rows {
		copy(xhat[r*c.DIn:(r+1)*c.DIn], s.BDec)
	}
	tensor.Gemm(false, false, rows, c.DIn, c.DSAE, 1, f, c.DSAE, s.WDec, c.DIn, 1, xhat, c.DIn)
}

// Encode returns the features f [rows, d_sae] of x [rows, d_in] (inference:
// BatchTopK acts as TopK).
func (s *SAE) Encode(x []float32, rows int) []float32 {
	c := s.Cfg
	pre, xc, f := make([]float32, rows*c.DSAE), make([]float32, rows*c.DIn), make([]float32, rows*c.DSAE)
	s.PreActivations(pre, xc, x, rows)
	s.Activate(f, pre, rows, false, make([]float32, c.DSAE))
	return f
}

// Reconstruct returns x̂ [rows, d_in] for x.
func (s *SAE) Reconstruct(x []float32, rows int) []float32 {
	xhat := make([]float32, rows*s.Cfg.DIn)
	s.Decode(xhat, s.Encode(x, rows), rows)
	return xhat
}

// MMCS is the mean max cosine similarity of each of the true directions
// (rows of truth [n, d]) with the dictionary's decoder rows: 1 when every
// true feature has a decoder row pointing its way. Reverse is the same
// from the decoder's side: the mean over decoder rows of their best
// cosine with a true direction (low when the dictionary holds rows that
// match nothing).
func (s *SAE) MMCS(truth []float32, n int) (mmcs, reverse float64) {
	d := s.Cfg.DIn
	best := make([]float64, s.Cfg.DSAE)
	for i := range best {
		best[i] = -1
	}
	for t := range n {
		tv := truth[t*d : (t+1)*d]
		tn := math.Sqrt(tensor.Dot(tv, tv))
		m := -1.0
		for j := range s.Cfg.DSAE {
			row := s.WDec[j*d : (j+1)*d]
			rn := math.Sqrt(tensor.Dot(row, row))
			if rn == 0 || tn == 0 {
				continue
			}
			cs := tensor.Dot(tv, row) / (tn * rn)
			m = max(m, cs)
			best[j] = max(best[j], cs)
		}
		mmcs += m
	}
	for _, b := range best {
		reverse += b
	}
	return mmcs / float64(n), reverse / float64(len(best))
}

// sortedDesc returns a copy of v sorted in decreasing order.
func sortedDesc(v []float64) []float64 {
	out := slices.Clone(v)
	slices.SortFunc(out, func(a, b float64) int { return cmp.Compare(b, a) })
	return out
}
