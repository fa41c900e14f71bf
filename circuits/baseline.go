package circuits

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Baseline is the composition score to expect between heads that do not
// compose: the score of random matrices of the shapes at hand. Composition
// scores are weak evidence on their own; report them beside a baseline, or
// as multiples of one (Composition.Relative).
type Baseline struct {
	// Analytic is 1/√d_model. For L = P₁S₁ᵀ and R = P₂S₂ᵀ with independent
	// rotation-invariant factors, E‖L·R‖_F² = ‖L‖_F²‖R‖_F²/d_model whatever
	// the rank, so the score is close to 1/√d_model.
	Analytic float64 `json:"analytic"`
	// Mean and Std are the mean and sample standard deviation of the score
	// over Samples independent draws of a random writer OV = W_V·W_O and a
	// random reader QK = W_Q·W_Kᵀ, all four factors Gaussian of the model's
	// shapes (rank d_head). A Gaussian QKᵀ or OV has the same distribution
	// as QK, so this one baseline serves Q-, K- and V-composition alike.
	Mean    float64 `json:"mean"`
	Std     float64 `json:"std"`
	Samples int     `json:"samples"`
}

// RandomBaseline returns the baseline for d_model and d_head, sampling
// samples random pairs from rng (seed it for reproducible numbers). Each
// sample costs about 16·d_model·d_head² multiply-adds plus 4·d_model·d_head
// Gaussian draws. It returns an error wrapping mat.ErrZeroLength unless
// dModel, dHead and samples are all positive.
func RandomBaseline(rng *rand.Rand, dModel, dHead, samples int) (Baseline, error) {
	if dModel < 1 || dHead < 1 || samples < 1 {
		return Baseline{}, fmt.Errorf("circuits: random baseline: d_model %d, d_head %d, samples %d must be positive: %w",
			dModel, dHead, samples, mat.ErrZeroLength)
	}
	gauss := func(r, c int) *mat.Dense {
		d := make([]float64, r*c)
		for i := range d {
			d[i] = rng.NormFloat64()
		}
		return mat.NewDense(r, c, d)
	}
	b := Baseline{Analytic: 1 / math.Sqrt(float64(dModel)), Samples: samples}
	var sum, sumSq float64
	for range samples {
		ov := factored(gauss(dModel, dHead), gauss(dHead, dModel))
		qk := factored(gauss(dModel, dHead), gauss(dHead, dModel))
		s, err := CompositionScore(ov, qk)
		if err != nil {
			return Baseline{}, err // unreachable: the shapes agree
		}
		sum += s
		sumSq += s * s
	}
	n := float64(samples)
	b.Mean = sum / n
	if samples > 1 {
		b.Std = math.Sqrt(max(sumSq-sum*sum/n, 0) / (n - 1))
	}
	return b, nil
}
