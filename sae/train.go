package sae

import (
	"context"
	"fmt"
	"math"

	"github.com/mechinterp/workbench/optim"
	"github.com/mechinterp/workbench/tensor"
)

// TrainConfig are a trainer's settings.
type TrainConfig struct {
	Batch int     `json:"batch"`
	LR    float64 `json:"lr"`
	// L1 is the sparsity penalty's coefficient for ReLU dictionaries
	// (λ·Σ|f|, decoder rows held at unit norm).
	L1 float64 `json:"l1_coefficient"`
	// AuxK, for TopK and BatchTopK, is the number of dead features whose
	// reconstruction of the residual error trains them (Gao et al. 2024's
	// auxiliary loss, weighted AuxCoeff); 0 turns it off. A feature is dead
	// once it has not fired for DeadAfter rows.
	AuxK      int     `json:"aux_k"`
	AuxCoeff  float64 `json:"aux_coefficient"`
	DeadAfter int     `json:"dead_after"`
	// L0 is the sparsity penalty's coefficient for JumpReLU dictionaries
	// (λ·‖f‖₀), and Bandwidth ε the width of the rectangle kernel of the
	// straight-through estimator that trains their thresholds
	// (Rajamanoharan et al. 2024, "Jumping Ahead"): both must be positive
	// for JumpReLU and zero otherwise.
	L0        float64 `json:"l0_coefficient,omitempty"`
	Bandwidth float64 `json:"jumprelu_bandwidth,omitempty"`
}

// Stats are one training step's measurements, averaged over the batch.
type Stats struct {
	MSE  float64 `json:"mse"` // Σ_d (x̂ − target)² per row
	L0   float64 `json:"l0"`  // active features per row
	FVU  float64 `json:"fvu"` // fraction of variance unexplained: MSE over the batch's variance
	Aux  float64 `json:"aux"` // the auxiliary loss (TopK with AuxK)
	Loss float64 `json:"loss"`
	Dead int     `json:"dead"` // features dead after this step
}

// Trainer trains one dictionary with Adam, holding every buffer a step
// needs: a step allocates nothing.
type Trainer struct {
	S   *SAE
	cfg TrainConfig
	opt *optim.Adam
	// gradients, the same shapes as the parameters
	gWEnc, gBEnc, gWDec, gBDec, gTheta []float32
	// per-step buffers
	xc, pre, f, xhat, dxhat, df, dxc, scratch []float32
	sinceFired                                []int     // rows since each feature last fired
	mean                                      []float64 // the batch's mean target
	auxPre, auxF, auxHat, dAux                []float32
	// The active entries of f, by row (sparse path): row r's are
	// actIdx[actStart[r]:actStart[r+1]], their values actVal, their
	// gradients actGrad; gWEncT [d_sae, d_in] accumulates W_enc's gradient
	// row by row before its transposition.
	actStart []int
	actIdx   []int32
	actVal   []float32
	actGrad  []float32
	gWEncT   []float32
	fired    []bool
}

// NewTrainer returns a trainer of s.
func NewTrainer(s *SAE, cfg TrainConfig) (*Trainer, error) {
	c := s.Cfg
	if cfg.Batch < 1 || cfg.Batch > 1<<20 {
		return nil, fmt.Errorf("%w: batch %d", ErrConfig, cfg.Batch)
	}
	if !(cfg.LR > 0) || math.IsInf(cfg.LR, 0) {
		return nil, fmt.Errorf("%w: learning rate %g", ErrConfig, cfg.LR)
	}
	if cfg.L1 < 0 || cfg.AuxCoeff < 0 || cfg.AuxK < 0 || cfg.DeadAfter < 0 {
		return nil, fmt.Errorf("%w: negative l1 %g, aux_k %d, aux coefficient %g or dead_after %d", ErrConfig, cfg.L1, cfg.AuxK, cfg.AuxCoeff, cfg.DeadAfter)
	}
	if cfg.L1 > 0 && c.Activation != ReLU {
		return nil, fmt.Errorf("%w: an L1 coefficient applies to relu dictionaries, not %s", ErrConfig, c.Activation)
	}
	if cfg.AuxK > 0 && c.Activation != TopK && c.Activation != BatchTopK {
		return nil, fmt.Errorf("%w: aux_k applies to topk and batchtopk dictionaries, not %s", ErrConfig, c.Activation)
	}
	if jump := c.Activation == JumpReLU; jump != (cfg.L0 > 0) || jump != (cfg.Bandwidth > 0) ||
		math.IsInf(cfg.L0, 0) || math.IsInf(cfg.Bandwidth, 0) || cfg.L0 < 0 || cfg.Bandwidth < 0 {
		return nil, fmt.Errorf("%w: l0 coefficient %g and bandwidth %g: both positive for jumprelu dictionaries and zero for %s ones", ErrConfig, cfg.L0, cfg.Bandwidth, c.Activation)
	}
	if cfg.DeadAfter == 0 {
		cfg.DeadAfter = 10 * cfg.Batch
	}
	B, d, n := cfg.Batch, c.DIn, c.DSAE
	t := &Trainer{S: s, cfg: cfg,
		gWEnc: make([]float32, d*n), gBEnc: make([]float32, n), gWDec: make([]float32, n*d), gBDec: make([]float32, d),
		xc: make([]float32, B*d), pre: make([]float32, B*n), f: make([]float32, B*n), xhat: make([]float32, B*d),
		dxhat: make([]float32, B*d), df: make([]float32, B*n), dxc: make([]float32, B*d), scratch: make([]float32, B*n),
		sinceFired: make([]int, n), mean: make([]float64, d),
		actStart: make([]int, B+1), actIdx: make([]int32, B*n/16), actVal: make([]float32, B*n/16), actGrad: make([]float32, B*n/16),
		gWEncT: make([]float32, n*d), fired: make([]bool, n),
	}
	if cfg.AuxK > 0 {
		t.auxPre, t.auxF, t.auxHat, t.dAux = make([]float32, B*n), make([]float32, B*n), make([]float32, B*d), make([]float32, B*d)
	}
	params := []optim.Param{
		{Name: "W_enc", Data: s.WEnc, Grad: t.gWEnc},
		{Name: "b_enc", Data: s.BEnc, Grad: t.gBEnc},
		{Name: "W_dec", Data: s.WDec, Grad: t.gWDec},
		{Name: "b_dec", Data: s.BDec, Grad: t.gBDec},
	}
	if c.Activation == JumpReLU {
		t.gTheta = make([]float32, n)
		params = append(params, optim.Param{Name: "threshold", Data: s.Threshold, Grad: t.gTheta})
	}
	var err error
	if t.opt, err = optim.NewAdam(params, optim.AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}); err != nil {
		return nil, err
	}
	return t, nil
}

// Optimizer returns the trainer's Adam, for checkpoints.
func (t *Trainer) Optimizer() *optim.Adam { return t.opt }

// Step trains on one batch: x [batch, d_in] is the input and target the
// reconstruction target (x itself for an SAE, the MLP's output for a
// transcoder; nil means x). It returns the step's statistics.
func (t *Trainer) Step(x, target []float32) Stats {
	st := t.Gradients(x, target)
	t.projectDecoderGrad()
	t.opt.Step(t.cfg.LR)
	t.S.NormalizeDecoder()
	for i, v := range t.S.Threshold { // a threshold stays positive
		t.S.Threshold[i] = max(v, minThreshold)
	}
	return st
}

// Gradients computes the loss of x and its gradients into the trainer's
// gradient buffers, without changing the dictionary.
//
//	loss = (1/B) Σ_rows ‖x̂ − target‖² + λ (1/B) Σ f + aux
func (t *Trainer) Gradients(x, target []float32) Stats {
	s, c, cfg := t.S, t.S.Cfg, t.cfg
	B, d, n := cfg.Batch, c.DIn, c.DSAE
	if target == nil {
		target = x
	}
	s.PreActivations(t.pre, t.xc, x, B)
	nz := s.Activate(t.f, t.pre, B, true, t.scratch)
	// Few active features (TopK, BatchTopK, a sparse ReLU): every product
	// but the encoder's runs over the active entries only.
	sparse := cfg.AuxK == 0 && nz*16 <= B*n && c.Activation != JumpReLU
	if sparse {
		t.gather(B)
		t.sparseDecode(B)
	} else {
		s.Decode(t.xhat, t.f, B)
	}
	var st Stats
	st.L0 = float64(nz) / float64(B)
	// dx̂ = 2(x̂ − target)/B; MSE and the target's variance for FVU.
	mean := t.mean
	clear(mean)
	for r := range B {
		for i := range d {
			mean[i] += float64(target[r*d+i])
		}
	}
	var sq, variance float64
	for r := range B {
		for i := range d {
			e := float64(t.xhat[r*d+i]) - float64(target[r*d+i])
			sq += e * e
			t.dxhat[r*d+i] = float32(2 * e / float64(B))
			dv := float64(target[r*d+i]) - mean[i]/float64(B)
			variance += dv * dv
		}
	}
	st.MSE = sq / float64(B)
	if variance > 0 {
		st.FVU = sq / variance
	}
	st.Loss = st.MSE
	if sparse {
		st.Loss += t.sparseGradients(B)
		for _, sf := range t.sinceFired {
			if sf >= cfg.DeadAfter {
				st.Dead++
			}
		}
		return st
	}
	// Decoder: dW_dec = fᵀ·dx̂, db_dec = Σ dx̂; df = dx̂·W_decᵀ (+ λ/B).
	tensor.Gemm(true, false, n, d, B, 1, t.f, n, t.dxhat, d, 0, t.gWDec, d)
	clear(t.gBDec)
	for r := range B {
		tensor.Axpy(1, t.dxhat[r*d:(r+1)*d], t.gBDec)
	}
	tensor.Gemm(false, true, B, n, d, 1, t.dxhat, d, s.WDec, d, 0, t.df, n)
	if cfg.L1 > 0 {
		l1 := float32(cfg.L1 / float64(B))
		var sum float64
		for i, v := range t.f {
			if v > 0 {
				t.df[i] += l1
				sum += float64(v)
			}
		}
		st.Loss += cfg.L1 * sum / float64(B)
	}
	if c.Activation == JumpReLU {
		st.Loss += t.thresholdGradients(B)
	}
	// Through the activation: the gradient passes where the feature fired.
	for i, v := range t.f {
		if v == 0 {
			t.df[i] = 0
		}
	}
	t.track(B)
	if cfg.AuxK > 0 {
		st.Aux = t.auxLoss(target)
		st.Loss += st.Aux
	}
	for _, sf := range t.sinceFired {
		if sf >= cfg.DeadAfter {
			st.Dead++
		}
	}
	// Encoder: dW_enc = xcᵀ·dpre, db_enc = Σ dpre; b_dec also enters xc.
	tensor.Gemm(true, false, d, n, B, 1, t.xc, d, t.df, n, 0, t.gWEnc, n)
	clear(t.gBEnc)
	for r := range B {
		tensor.Axpy(1, t.df[r*n:(r+1)*n], t.gBEnc)
	}
	if !c.Transcoder {
		tensor.Gemm(false, true, B, d, n, 1, t.df, n, s.WEnc, n, 0, t.dxc, d)
		for r := range B {
			tensor.Axpy(-1, t.dxc[r*d:(r+1)*d], t.gBDec)
		}
	}
	return st
}

// minThreshold is the smallest JumpReLU threshold training leaves.
const minThreshold = 1e-6

// thresholdGradients writes the JumpReLU thresholds' gradients from the
// straight-through estimator of Rajamanoharan et al. (2024), with the
// rectangle kernel K(u) = 1 for |u| < 1/2 and bandwidth ε, given df =
// ∂loss/∂f before the activation's mask:
//
//	∂f/∂θ ≈ −(θ/ε)·K((pre − θ)/ε),  ∂H(pre − θ)/∂θ ≈ −(1/ε)·K((pre − θ)/ε)
//
// so that ∂loss/∂θ_j = Σ_rows K(·)·(−θ_j/ε·df − λ/(B·ε)). It returns the
// L0 term of the loss, λ·(1/B)·Σ H(pre − θ). Gradients reach pre only
// through f where the feature fired (as for ReLU).
func (t *Trainer) thresholdGradients(B int) float64 {
	s, cfg := t.S, t.cfg
	n := s.Cfg.DSAE
	eps := cfg.Bandwidth
	clear(t.gTheta)
	active := 0
	for r := range B {
		for j := range n {
			i := r*n + j
			th := float64(s.Threshold[j])
			if t.f[i] != 0 {
				active++
			}
			if u := (float64(t.pre[i]) - th) / eps; u > -0.5 && u < 0.5 {
				t.gTheta[j] += float32(-th/eps*float64(t.df[i]) - cfg.L0/(float64(B)*eps))
			}
		}
	}
	return cfg.L0 * float64(active) / float64(B)
}

// track counts, per feature, the rows since it last fired.
func (t *Trainer) track(B int) {
	n := t.S.Cfg.DSAE
	for j := range n {
		fired := false
		for r := range B {
			if t.f[r*n+j] != 0 {
				fired = true
				break
			}
		}
		if fired {
			t.sinceFired[j] = 0
		} else {
			t.sinceFired[j] += B
		}
	}
}

// auxLoss adds the auxiliary loss's gradients (Gao et al. 2024, appendix
// A.2): the dead features' top AuxK pre-activations per row reconstruct
// the residual error e = target − x̂ (held constant),
//
//	aux = AuxCoeff · (1/B) Σ ‖ê − e‖²,  ê = f_dead·W_dec
//
// and returns it. Its gradients reach the dead features only.
func (t *Trainer) auxLoss(target []float32) float64 {
	s, c, cfg := t.S, t.S.Cfg, t.cfg
	B, d, n := cfg.Batch, c.DIn, c.DSAE
	dead := 0
	for j := range n {
		if t.sinceFired[j] >= cfg.DeadAfter {
			dead++
		}
	}
	if dead == 0 {
		return 0
	}
	k := min(cfg.AuxK, dead)
	for i, v := range t.pre {
		t.auxPre[i] = v
		if t.sinceFired[i%n] < cfg.DeadAfter {
			t.auxPre[i] = float32(math.Inf(-1))
		}
	}
	for r := range B {
		keepLargest(t.auxF[r*n:(r+1)*n], t.auxPre[r*n:(r+1)*n], k, t.scratch)
	}
	clear(t.auxHat)
	tensor.Gemm(false, false, B, d, n, 1, t.auxF, n, s.WDec, d, 0, t.auxHat, d)
	var sq float64
	for i := range t.auxHat {
		e := float64(target[i]) - float64(t.xhat[i])
		diff := float64(t.auxHat[i]) - e
		sq += diff * diff
		t.dAux[i] = float32(2 * cfg.AuxCoeff * diff / float64(B))
	}
	// dW_dec += auxFᵀ·dAux; df_aux = dAux·W_decᵀ where auxF fired.
	tensor.Gemm(true, false, n, d, B, 1, t.auxF, n, t.dAux, d, 1, t.gWDec, d)
	dfa := t.auxPre // reuse as scratch
	tensor.Gemm(false, true, B, n, d, 1, t.dAux, d, s.WDec, d, 0, dfa, n)
	for i, v := range t.auxF {
		if v != 0 {
			t.df[i] += dfa[i]
		}
	}
	return cfg.AuxCoeff * sq / float64(B)
}

// projectDecoderGrad removes from each decoder row's gradient its
// component along the row, so that the step moves the row along the unit
// sphere (the normalisation after it then changes little).
func (t *Trainer) projectDecoderGrad() {
	d := t.S.Cfg.DIn
	for j := range t.S.Cfg.DSAE {
		row, g := t.S.WDec[j*d:(j+1)*d], t.gWDec[j*d:(j+1)*d]
		tensor.Axpy(-float32(tensor.Dot(row, g)), row, g)
	}
}

// gather lists the active entries of f by row.
func (t *Trainer) gather(B int) {
	n := t.S.Cfg.DSAE
	k := 0
	for r := range B {
		t.actStart[r] = k
		for j, v := range t.f[r*n : (r+1)*n] {
			if v != 0 {
				t.actIdx[k], t.actVal[k] = int32(j), v
				k++
			}
		}
	}
	t.actStart[B] = k
}

// sparseDecode writes x̂ = f·W_dec + b_dec from the active entries.
func (t *Trainer) sparseDecode(B int) {
	s, d := t.S, t.S.Cfg.DIn
	for r := range B {
		row := t.xhat[r*d : (r+1)*d]
		copy(row, s.BDec)
		for e := t.actStart[r]; e < t.actStart[r+1]; e++ {
			j := int(t.actIdx[e])
			tensor.Axpy(t.actVal[e], s.WDec[j*d:(j+1)*d], row)
		}
	}
}

// sparseGradients is Gradients' backward pass over the active entries:
// the same gradients as the dense products, whose other terms are zero.
// It returns the L1 term of the loss.
func (t *Trainer) sparseGradients(B int) float64 {
	s, c, cfg := t.S, t.S.Cfg, t.cfg
	d, n := c.DIn, c.DSAE
	clear(t.gWDec)
	clear(t.gWEncT)
	clear(t.gBEnc)
	clear(t.gBDec)
	clear(t.fired)
	l1 := float32(cfg.L1 / float64(B))
	var sum float64
	for r := range B {
		dx := t.dxhat[r*d : (r+1)*d]
		tensor.Axpy(1, dx, t.gBDec)
		xc := t.xc[r*d : (r+1)*d]
		for e := t.actStart[r]; e < t.actStart[r+1]; e++ {
			j, v := int(t.actIdx[e]), t.actVal[e]
			t.fired[j] = true
			dec := s.WDec[j*d : (j+1)*d]
			tensor.Axpy(v, dx, t.gWDec[j*d:(j+1)*d]) // dW_dec[j] += f·dx̂
			g := float32(tensor.Dot(dx, dec))        // df = dx̂·W_dec[j]
			if cfg.L1 > 0 {
				g += l1
				sum += float64(v)
			}
			t.gBEnc[j] += g
			tensor.Axpy(g, xc, t.gWEncT[j*d:(j+1)*d]) // dW_enc[:, j] += xc·df
		}
	}
	for i := range d { // gWEnc [d, n] = gWEncTᵀ
		row := t.gWEnc[i*n : (i+1)*n]
		for j := range row {
			row[j] = t.gWEncT[j*d+i]
		}
	}
	if !c.Transcoder { // b_dec enters xc: db_dec −= Σ_r dpre[r]·W_encᵀ = W_enc·db_enc
		for i := range d {
			t.gBDec[i] -= float32(tensor.Dot(s.WEnc[i*n:(i+1)*n], t.gBEnc))
		}
	}
	for j, f := range t.fired {
		if f {
			t.sinceFired[j] = 0
		} else {
			t.sinceFired[j] += B
		}
	}
	return cfg.L1 * sum / float64(B)
}

// Run trains for steps steps on batches drawn from src (rows its batch
// size; targets the source's second hook for a transcoder), calling log,
// if not nil, after each step. It returns the steps done and the last
// step's statistics; when ctx is done it stops between steps and returns
// its error with the steps done so far.
func (t *Trainer) Run(ctx context.Context, src *Source, steps int, log func(step int, st Stats)) (int, Stats, error) {
	B, d := t.cfg.Batch, t.S.Cfg.DIn
	x, y := make([]float32, B*d), make([]float32, B*d)
	var st Stats
	for done := range steps {
		if err := ctx.Err(); err != nil {
			return done, st, err
		}
		if err := src.Next(ctx, x, y, B); err != nil {
			return done, st, err
		}
		if src.Width() != d {
			return done, st, fmt.Errorf("sae: %s is %d wide, the dictionary %d", src.in, src.Width(), d)
		}
		var target []float32
		if t.S.Cfg.Transcoder {
			target = y
		}
		st = t.Step(x, target)
		if log != nil {
			log(done+1, st)
		}
	}
	return steps, st, nil
}
