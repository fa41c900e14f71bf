package sae

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// Batches yields token batches to run a model on: it fills and returns
// sequences (any number, of equal length), or an error. It is called as
// often as the source needs more activations; the sequences need not be
// new each time.
type Batches func(ctx context.Context) ([][]int, error)

// Source streams a hook point's activations from a model: it runs the
// model on batches, keeps the activation rows (one per batch item and
// position) in a shuffle buffer, and hands out random rows. Nothing is
// cached beyond the buffer.
type Source struct {
	m        *transformer.Model
	in, out  hooks.Name // out: a transcoder's target ("" for an SAE)
	batches  Batches
	pcg      *rand.PCG // rng's source, saved in checkpoints
	rng      *rand.Rand
	d        int
	bufIn    []float32 // [cap, d]
	bufOut   []float32
	n, cap   int // rows held, capacity
	served   int // rows handed out since the last refill
	Skip     int // positions skipped at the start of each sequence (a BOS)
	modelRun int
}

// NewSource returns a source of hook in's activations (and, for a
// transcoder, out's) on m, holding up to capRows rows.
func NewSource(m *transformer.Model, in, out string, batches Batches, capRows int, seed uint64) (*Source, error) {
	hin, err := m.ParseHook(in)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	pcg := rand.NewPCG(seed, 0x50c)
	s := &Source{m: m, in: hin, batches: batches, pcg: pcg, rng: rand.New(pcg), cap: capRows}
	if out != "" {
		if s.out, err = m.ParseHook(out); err != nil {
			return nil, fmt.Errorf("sae: %w", err)
		}
	}
	if capRows < 1 || capRows > 1<<24 {
		return nil, fmt.Errorf("sae: a source buffer of %d rows", capRows)
	}
	return s, nil
}

// Width returns the activation width, known after the first fill (0
// before).
func (s *Source) Width() int { return s.d }

// Runs returns the model runs made so far.
func (s *Source) Runs() int { return s.modelRun }

// fill runs the model on more batches until the buffer is full, replacing
// the rows already served.
func (s *Source) fill(ctx context.Context) error {
	for s.n < s.cap {
		toks, err := s.batches(ctx)
		if err != nil {
			return err
		}
		names := []hooks.Name{s.in}
		if s.out != "" {
			names = append(names, s.out)
		}
		set, cache := hooks.Capture(hooks.Names(names...))
		if _, err := s.m.Run(ctx, toks, set); err != nil {
			return fmt.Errorf("sae: %w", err)
		}
		s.modelRun++
		a, _ := cache.Get(s.in)
		if len(a.Shape) != 3 {
			return fmt.Errorf("sae: hook %s has shape %v: want [batch, pos, d] (a per-head hook is not a residual-width activation)", s.in, a.Shape)
		}
		B, T, d := a.Shape[0], a.Shape[1], a.Shape[2]
		if s.d == 0 {
			s.d = d
			s.bufIn = make([]float32, s.cap*d)
			if s.out != "" {
				s.bufOut = make([]float32, s.cap*d)
			}
		}
		var o *tensor.Tensor
		if s.out != "" {
			o, _ = cache.Get(s.out)
			if !tensor.SameShape(o.Shape, a.Shape) {
				return fmt.Errorf("sae: transcoder hooks %s %v and %s %v differ in shape", s.in, a.Shape, s.out, o.Shape)
			}
		}
		for b := range B {
			for p := s.Skip; p < T && s.n < s.cap; p++ {
				r := b*T + p
				copy(s.bufIn[s.n*d:(s.n+1)*d], a.Data[r*d:(r+1)*d])
				if o != nil {
					copy(s.bufOut[s.n*d:(s.n+1)*d], o.Data[r*d:(r+1)*d])
				}
				s.n++
			}
		}
	}
	return nil
}

// Next writes rows random activation rows into x [rows, d] (and their
// targets into y for a transcoder; y is ignored otherwise). When half the
// buffer has been served it is refilled from new model runs, so rows mix
// across batches.
func (s *Source) Next(ctx context.Context, x, y []float32, rows int) error {
	if err := s.fill(ctx); err != nil {
		return err
	}
	d := s.d
	if len(x) < rows*d || (s.out != "" && len(y) < rows*d) {
		return fmt.Errorf("sae: Next: buffers too short for %d rows of %d", rows, d)
	}
	for r := range rows {
		i := s.rng.IntN(s.n)
		copy(x[r*d:(r+1)*d], s.bufIn[i*d:(i+1)*d])
		if s.out != "" {
			copy(y[r*d:(r+1)*d], s.bufOut[i*d:(i+1)*d])
		}
		// Replace the served row by the last, shrinking the pool.
		last := s.n - 1
		copy(s.bufIn[i*d:(i+1)*d], s.bufIn[last*d:(last+1)*d])
		if s.out != "" {
			copy(s.bufOut[i*d:(i+1)*d], s.bufOut[last*d:(last+1)*d])
		}
		s.n--
		if s.n < s.cap/2 {
			if err := s.fill(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Splice returns a hook set that replaces the dictionary's hook point with
// its reconstruction (for a transcoder: the target hook with the
// transcoder's output from the input hook).
func (s *SAE) Splice(m *transformer.Model) (*hooks.Set, error) {
	c := s.Cfg
	in, err := m.ParseHook(c.HookName)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	if !c.Transcoder {
		return hooks.NewSet().Add(in, func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
			rows := a.Size() / c.DIn
			copy(a.Data, s.Reconstruct(a.Data, rows))
			return nil
		}), nil
	}
	out, err := m.ParseHook(c.HookNameOut)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	var pred []float32
	return hooks.NewSet().
		Add(in, func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
			pred = s.Reconstruct(a.Data, a.Size()/c.DIn)
			return nil
		}).
		Add(out, func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
			copy(a.Data, pred)
			return nil
		}), nil
}

// Fidelity is how well a dictionary stands in for the activation it
// reconstructs, measured on the model.
type Fidelity struct {
	CleanLoss   float64 `json:"clean_loss"`   // the model's loss
	SpliceLoss  float64 `json:"splice_loss"`  // with the reconstruction spliced in
	AblatedLoss float64 `json:"ablated_loss"` // with the activation zeroed (for a transcoder: the MLP's output)
	// CERecovered is (ablated − splice)/(ablated − clean): 1 when the
	// reconstruction loses nothing, 0 when it is as bad as zeroing.
	CERecovered float64 `json:"ce_loss_recovered"`
	L0          float64 `json:"l0"`
	FVU         float64 `json:"fvu"`
	// DeadFraction is the fraction of features that never fired on these
	// tokens.
	DeadFraction float64 `json:"dead_fraction"`
}

// Evaluate measures s on m over tokens (next-token loss over every
// position): the cross-entropy recovered, L0, FVU and dead features.
func (s *SAE) Evaluate(ctx context.Context, m *transformer.Model, tokens [][]int) (*Fidelity, error) {
	c := s.Cfg
	f := &Fidelity{}
	var err error
	if f.CleanLoss, err = m.Loss(ctx, tokens, nil, nil); err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	splice, err := s.Splice(m)
	if err != nil {
		return nil, err
	}
	if f.SpliceLoss, err = m.Loss(ctx, tokens, nil, splice); err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	target := c.HookName
	if c.Transcoder {
		target = c.HookNameOut
	}
	tn, _ := m.ParseHook(target)
	zero := hooks.NewSet().Add(tn, func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor { clear(a.Data); return nil })
	if f.AblatedLoss, err = m.Loss(ctx, tokens, nil, zero); err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	if den := f.AblatedLoss - f.CleanLoss; den != 0 {
		f.CERecovered = (f.AblatedLoss - f.SpliceLoss) / den
	}
	// L0, FVU, dead features on the activations themselves.
	in, _ := m.ParseHook(c.HookName)
	names := []hooks.Name{in}
	if c.Transcoder {
		names = append(names, tn)
	}
	set, cache := hooks.Capture(hooks.Names(names...))
	if _, err := m.Run(ctx, tokens, set); err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	a, _ := cache.Get(in)
	y := a
	if c.Transcoder {
		y, _ = cache.Get(tn)
	}
	rows := a.Size() / c.DIn
	feats := s.Encode(a.Data, rows)
	xhat := make([]float32, rows*c.DIn)
	s.Decode(xhat, feats, rows)
	fired := make([]bool, c.DSAE)
	nz := 0
	for i, v := range feats {
		if v != 0 {
			nz++
			fired[i%c.DSAE] = true
		}
	}
	f.L0 = float64(nz) / float64(rows)
	dead := 0
	for _, fr := range fired {
		if !fr {
			dead++
		}
	}
	f.DeadFraction = float64(dead) / float64(c.DSAE)
	mean := make([]float64, c.DIn)
	for r := range rows {
		for i := range c.DIn {
			mean[i] += float64(y.Data[r*c.DIn+i]) / float64(rows)
		}
	}
	var sq, variance float64
	for r := range rows {
		for i := range c.DIn {
			e := float64(xhat[r*c.DIn+i]) - float64(y.Data[r*c.DIn+i])
			dv := float64(y.Data[r*c.DIn+i]) - mean[i]
			sq, variance = sq+e*e, variance+dv*dv
		}
	}
	if variance > 0 {
		f.FVU = sq / variance
	}
	return f, nil
}
