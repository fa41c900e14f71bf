package nn

// BCEWithLogitsForward returns PyTorch's BCEWithLogitsLoss (reduction
// "mean") of logits z [n] against targets t [n] in [0, 1], weighted by
// weights [n] (nil = all 1):
//
//	loss = (1/n) Σ w_i·ℓ_i,   ℓ = max(z, 0) − z·t + log(1 + e^−|z|)
//
// which is −t·log σ(z) − (1−t)·log(1 − σ(z)) computed without overflow or
// loss of precision for large |z|, in float64. Note that, as in PyTorch, the
// mean divides by n, not by Σ w. n = 0 gives 0. It panics with a
// tensor.ShapeError if targets or weights are shorter than logits.
func BCEWithLogitsForward(logits, targets, weights []float32) float64 {
	const op = "BCEWithLogitsForward"
	checkBCE(op, logits, targets, weights)
	if len(logits) == 0 {
		return 0
	}
	var s float64
	for i, v := range logits {
		z := float64(v)
		l := softplus(z) - z*float64(targets[i])
		if weights != nil {
			l *= float64(weights[i])
		}
		s += l
	}
	return s / float64(len(logits))
}

// BCEWithLogitsBackward accumulates the gradient of scale times
// BCEWithLogitsForward into dlogits [n]:
//
//	dlogits[i] += scale·w_i·(σ(z_i) − t_i)/n
//
// It panics with a tensor.ShapeError if a slice is shorter than logits.
func BCEWithLogitsBackward(dlogits, logits, targets, weights []float32, scale float32) {
	const op = "BCEWithLogitsBackward"
	checkBCE(op, logits, targets, weights)
	lenAtLeast(op, "len(dlogits)", len(dlogits), len(logits))
	if len(logits) == 0 {
		return
	}
	c := float64(scale) / float64(len(logits))
	for i, v := range logits {
		g := c * (sigmoid(float64(v)) - float64(targets[i]))
		if weights != nil {
			g *= float64(weights[i])
		}
		dlogits[i] += float32(g)
	}
}

func checkBCE(op string, logits, targets, weights []float32) {
	lenAtLeast(op, "len(targets)", len(targets), len(logits))
	if weights != nil {
		lenAtLeast(op, "len(weights)", len(weights), len(logits))
	}
}

// The GAN objectives below (Goodfellow et al. 2014; Arjovsky, Chintala &
// Bottou 2017) take the discriminator's logits, D(x) = σ(logit), on a batch
// of real and/or generated samples, return the loss (a mean over the batch)
// and accumulate scale times its gradient with respect to the logits into the
// d-slices, each skipped if nil. They panic with a tensor.ShapeError if a
// gradient slice is shorter than its logits.

// GANDiscriminatorLoss is the discriminator's loss −log D(x) − log(1 − D(G(z))),
// the binary cross-entropy of real logits against 1 plus that of fake logits
// against 0: mean softplus(−real) + mean softplus(fake). Gradients:
// dReal += scale·(σ(r) − 1)/n_real, dFake += scale·σ(f)/n_fake.
func GANDiscriminatorLoss(dReal, dFake, real, fake []float32, scale float32) float64 {
	return meanLogitLoss(dReal, real, scale, -1) + meanLogitLoss(dFake, fake, scale, 1)
}

// GANMinimaxGeneratorLoss is the generator's loss in the original minimax
// game, mean log(1 − D(G(z))) = −mean softplus(fake), which the generator
// minimises; its gradient −σ(f)/n vanishes when the discriminator confidently
// rejects the samples (σ(f) → 0), the saturation Goodfellow et al. describe.
func GANMinimaxGeneratorLoss(dFake, fake []float32, scale float32) float64 {
	return -meanLogitLoss(dFake, fake, -scale, 1)
}

// GANNonSaturatingGeneratorLoss is the generator's non-saturating loss,
// mean −log D(G(z)) = mean softplus(−fake), with gradient (σ(f) − 1)/n, which
// is largest exactly where the minimax loss saturates.
func GANNonSaturatingGeneratorLoss(dFake, fake []float32, scale float32) float64 {
	return meanLogitLoss(dFake, fake, scale, -1)
}

// WassersteinCriticLoss is the WGAN critic's loss mean f(fake) − mean f(real),
// where f is the critic's raw output (no sigmoid); minimising it maximises the
// critic's estimate of the Wasserstein-1 distance. Gradients:
// dReal += −scale/n_real, dFake += scale/n_fake. Keep the critic Lipschitz
// with ClipWeights after every critic step.
func WassersteinCriticLoss(dReal, dFake, real, fake []float32, scale float32) float64 {
	return meanLinear(dFake, fake, scale) - meanLinear(dReal, real, -scale)
}

// WassersteinGeneratorLoss is the WGAN generator's loss −mean f(fake), with
// gradient −scale/n_fake.
func WassersteinGeneratorLoss(dFake, fake []float32, scale float32) float64 {
	return -meanLinear(dFake, fake, -scale)
}

// ClipWeights clamps every element of w to [−c, c], the WGAN critic's weight
// clipping (c = 0.01 in Arjovsky et al.). NaNs are left alone.
func ClipWeights(w []float32, c float32) {
	for i, v := range w {
		if v > c {
			w[i] = c
		} else if v < -c {
			w[i] = -c
		}
	}
}

// meanLogitLoss returns mean softplus(sign·z) over z and accumulates
// scale·sign·σ(sign·z)/n into dz (skipped if nil).
func meanLogitLoss(dz, z []float32, scale float32, sign float64) float64 {
	if len(z) == 0 {
		return 0
	}
	if dz != nil {
		lenAtLeast("GAN loss", "len(gradient)", len(dz), len(z))
	}
	c := float64(scale) * sign / float64(len(z))
	var s float64
	for i, v := range z {
		u := sign * float64(v)
		s += softplus(u)
		if dz != nil {
			dz[i] += float32(c * sigmoid(u))
		}
	}
	return s / float64(len(z))
}

// meanLinear returns mean z and accumulates scale/n into dz (skipped if nil).
func meanLinear(dz, z []float32, scale float32) float64 {
	if len(z) == 0 {
		return 0
	}
	if dz != nil {
		lenAtLeast("GAN loss", "len(gradient)", len(dz), len(z))
		g := scale / float32(len(z))
		for i := range z {
			dz[i] += g
		}
	}
	var s float64
	for _, v := range z {
		s += float64(v)
	}
	return s / float64(len(z))
}
