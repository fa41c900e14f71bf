package optim

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/mechinterp/workbench/tensor"
)

// Param is one parameter tensor as an optimizer sees it: a unique Name (the
// state-dict name, e.g. "blocks.0.attn.W_Q"), its Data flattened row-major,
// the gradient Grad of the same length, and whether weight decay applies.
// Data and Grad are aliased, not copied: they are normally views of the
// model's parameter and gradient arenas.
type Param struct {
	Name       string
	Data, Grad []float32
	// Decay reports whether weight decay applies to this parameter: true for
	// weight matrices and embeddings, false for biases, LayerNorm and
	// BatchNorm parameters. Optimizers obey Decay alone; DecayByName gives
	// the default for TransformerLens names.
	Decay bool
}

// ErrConfig is wrapped by the errors of the optimizer constructors for
// invalid hyperparameters or parameter lists.
var ErrConfig = errors.New("optim: invalid config")

// ErrState is wrapped by the errors of LoadState when the state does not
// match the optimizer (unknown, missing or duplicate names, wrong lengths,
// negative step count).
var ErrState = errors.New("optim: state mismatch")

// DecayByName reports whether weight decay applies by default to the
// parameter with the given TransformerLens state-dict name. It follows
// nanoGPT's rule — decay every weight matrix of rank ≥ 2, embeddings
// included; never biases or normalisation parameters — as it reads on
// TransformerLens names: a parameter decays exactly when the last
// dot-separated component of its name begins with "W_" (embed.W_E,
// pos_embed.W_pos, blocks.{l}.attn.W_Q/W_K/W_V/W_O, blocks.{l}.mlp.W_in/W_out,
// unembed.W_U). Biases (b_*), LayerNorm gains and biases (ln1.w, ln_final.b)
// and every other name, BatchNorm's weight and bias included, do not decay.
// Models with other naming schemes set Param.Decay themselves, for example
// to len(shape) >= 2 for convolution and linear weights.
func DecayByName(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	return strings.HasPrefix(last, "W_")
}

// ZeroGrad sets every gradient in params to zero. It allocates nothing.
func ZeroGrad(params []Param) {
	for _, p := range params {
		clear(p.Grad)
	}
}

// clipEps is added to the norm before dividing, as in PyTorch's
// clip_grad_norm_, so that a zero gradient never divides by zero.
const clipEps = 1e-6

// ClipGradNorm computes the global L2 norm of all gradients in params,
// treated as one vector and accumulated in float64, and returns it. When
// maxNorm/(norm+1e-6) < 1 — that is, when norm exceeds maxNorm up to the
// 1e-6 guard — every gradient is scaled in place by that factor, rounded to
// float32, so the clipped norm is maxNorm up to rounding. This is
// torch.nn.utils.clip_grad_norm_ with norm_type 2; Decay plays no part.
//
// One deliberate difference from PyTorch: when the norm is not finite (a NaN
// or ±Inf gradient) the gradients are left unchanged and the non-finite norm
// is returned, so that the caller can skip the step; PyTorch would scale every
// gradient by NaN or 0. ClipGradNorm allocates nothing.
func ClipGradNorm(params []Param, maxNorm float64) (norm float64) {
	var sumSq float64
	for _, p := range params {
		sumSq += tensor.Dot(p.Grad, p.Grad)
	}
	norm = math.Sqrt(sumSq)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	if coef := maxNorm / (norm + clipEps); coef < 1 {
		c := float32(coef)
		for _, p := range params {
			tensor.Scale(c, p.Grad)
		}
	}
	return norm
}

// checkParams validates a parameter list for an optimizer: every gradient as
// long as its data, names non-empty and unique (they key the exported state).
func checkParams(params []Param) error {
	seen := make(map[string]bool, len(params))
	for i, p := range params {
		if p.Name == "" {
			return fmt.Errorf("%w: param %d has an empty name", ErrConfig, i)
		}
		if seen[p.Name] {
			return fmt.Errorf("%w: duplicate param name %q", ErrConfig, p.Name)
		}
		seen[p.Name] = true
		if len(p.Grad) != len(p.Data) {
			return fmt.Errorf("%w: param %q: grad has %d elements, data %d", ErrConfig, p.Name, len(p.Grad), len(p.Data))
		}
	}
	return nil
}
