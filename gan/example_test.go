package gan_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/gan"
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"gonum.org/v1/gonum/mat"
)

// The Fréchet distance between N(0, I) and N((3, 4), diag(4, 1)):
// ‖μ‖² = 25 plus Σ (√λa − √λb)² = (1 − 2)² + 0 = 1.
func ExampleFrechetDistance() {
	a := gan.Gaussian{Mean: []float64{0, 0}, Cov: mat.NewSymDense(2, []float64{1, 0, 0, 1})}
	b := gan.Gaussian{Mean: []float64{3, 4}, Cov: mat.NewSymDense(2, []float64{4, 0, 0, 1})}
	d, err := gan.FrechetDistance(a, b)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.6f\n", d)
	// Output: 26.000000
}

// The VEEGAN metrics of samples drawn from the 8-mode ring itself.
func ExampleEvaluateMixture() {
	ring := data.Ring8()
	x := make([]float32, 2*gan.VEEGANSamples)
	ring.Sample(x, gan.VEEGANSamples, rand.New(rand.NewPCG(1, 2)))
	mm := gan.EvaluateMixture(ring, x, gan.VEEGANSamples)
	fmt.Printf("%d of %d modes, %.0f%% high quality\n", mm.ModesCaptured, mm.Modes, 100*mm.HighQualityFraction)
	// Output: 8 of 8 modes, 99% high quality
}

// Reading the generator's hook points: the latent vectors, every block's
// output, and the discriminator's logit on the generated images.
func ExampleModel_Generate() {
	m, err := gan.New(gan.DCGAN())
	if err != nil {
		panic(err)
	}
	z := tensor.New(2, m.Cfg.ZDim)
	gan.SampleZ(z.Data, rand.New(rand.NewPCG(1, 1)))
	cache, c := hooks.Capture(nil)
	ctx := context.Background()
	images, err := m.Generate(ctx, z, cache)
	if err != nil {
		panic(err)
	}
	if _, err := m.Discriminate(ctx, images, cache); err != nil {
		panic(err)
	}
	for _, n := range []hooks.Name{"G.hook_z", "G.blocks.0.hook_out", "G.blocks.1.bn.hook_normalized", "G.blocks.2.hook_out", "D.hook_logit"} {
		t, _ := c.Get(n)
		fmt.Println(n, t.Shape)
	}
	// Output:
	// G.hook_z [2 100]
	// G.blocks.0.hook_out [2 64 7 7]
	// G.blocks.1.bn.hook_normalized [2 32 14 14]
	// G.blocks.2.hook_out [2 1 28 28]
	// D.hook_logit [2 1]
}
