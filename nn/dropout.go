package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mechinterp/workbench/tensor"
)

// DropoutMask fills mask with a fresh inverted-dropout mask (Srivastava et
// al. 2014) for drop probability p: each entry is 0 with probability p and 1
// otherwise, drawn from rng, so a seeded rng fixes the mask. The 0/1 mask is
// what a model exposes at its hook point (dropout.hook_mask); the 1/(1−p)
// scale is applied by DropoutForward. With p == 0, or rng nil (evaluation),
// every entry is 1 and rng is not used.
//
// The draw is the top or bottom 32 bits of rng.Uint64 compared against
// ⌊p·2³²⌋, two entries per draw, so the probability is exact to 2⁻³². It
// panics with a tensor.ShapeError if p is not in [0, 1).
func DropoutMask(mask []float32, p float32, rng *rand.Rand) {
	checkDropP("DropoutMask", p)
	if p == 0 || rng == nil {
		for i := range mask {
			mask[i] = 1
		}
		return
	}
	thr := uint32(math.Min(float64(p)*(1<<32), math.MaxUint32))
	keep := func(u uint32) float32 {
		if u < thr {
			return 0
		}
		return 1
	}
	i := 0
	for ; i+2 <= len(mask); i += 2 {
		u := rng.Uint64()
		mask[i], mask[i+1] = keep(uint32(u)), keep(uint32(u>>32))
	}
	if i < len(mask) {
		mask[i] = keep(uint32(rng.Uint64()))
	}
}

// DropoutForward writes y = x·mask/(1−p), the inverted-dropout output for a
// mask from DropoutMask (or any mask: a hook may have edited it). x, mask and
// y have one length; y may alias x. At evaluation a model skips dropout: the
// layer is the identity. It panics with a tensor.ShapeError if the lengths
// differ or p is not in [0, 1).
func DropoutForward(y, x, mask []float32, p float32) {
	const op = "DropoutForward"
	checkDropP(op, p)
	sameLen(op, y, x, mask)
	s := 1 / (1 - p)
	for i, v := range x {
		y[i] = v * mask[i] * s
	}
}

// DropoutBackward accumulates dx += dy·mask/(1−p), given dy and the forward's
// mask, all of one length. dx nil is skipped. It panics with a
// tensor.ShapeError if the lengths differ or p is not in [0, 1).
func DropoutBackward(dx, dy, mask []float32, p float32) {
	const op = "DropoutBackward"
	checkDropP(op, p)
	if dx == nil {
		return
	}
	sameLen(op, dx, dy, mask)
	s := 1 / (1 - p)
	for i, v := range dy {
		dx[i] += v * mask[i] * s
	}
}

func checkDropP(op string, p float32) {
	if !(p >= 0 && p < 1) {
		panic(tensor.ShapeError{Op: "nn." + op, Msg: fmt.Sprintf("drop probability %v not in [0, 1)", p)})
	}
}
