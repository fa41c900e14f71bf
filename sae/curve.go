package sae

import (
	"context"
	"fmt"

	"github.com/mechinterp/workbench/transformer"
)

// CurveOptions describe a sparsity–fidelity sweep: one dictionary of
// config Base trained per sparsity setting, Ks for TopK and BatchTopK
// (each replaces Base.K) or L1s for ReLU (each replaces Train.L1).
type CurveOptions struct {
	Base  Config
	Train TrainConfig
	Steps int
	Ks    []int
	L1s   []float64
	Seed  uint64
	// Rows is the capacity of each dictionary's activation buffer.
	Rows int
}

// CurvePoint is one dictionary of a sweep, measured on held-out tokens.
type CurvePoint struct {
	K            int     `json:"k,omitempty"`
	L1           float64 `json:"l1,omitempty"`
	L0           float64 `json:"l0"`
	FVU          float64 `json:"fvu"`
	CERecovered  float64 `json:"ce_loss_recovered"`
	DeadFraction float64 `json:"dead_fraction"`
}

// MaxCurvePoints bounds a sweep.
const MaxCurvePoints = 64

// Curve trains one dictionary per sparsity setting on activations
// streamed from m and evaluates each on held: the sparsity–fidelity curve,
// in the order of the settings. newBatches returns each dictionary's
// batches; giving each the same stream makes the points comparable.
func Curve(ctx context.Context, m *transformer.Model, newBatches func() Batches, held [][]int, opt CurveOptions) ([]CurvePoint, error) {
	arch := opt.Base.Activation
	switch {
	case len(opt.Ks)+len(opt.L1s) == 0 || len(opt.Ks)+len(opt.L1s) > MaxCurvePoints:
		return nil, fmt.Errorf("sae: a curve of %d k and %d l1 values: give 1 to %d", len(opt.Ks), len(opt.L1s), MaxCurvePoints)
	case len(opt.Ks) > 0 && (len(opt.L1s) > 0 || arch != TopK && arch != BatchTopK):
		return nil, fmt.Errorf("sae: a sweep over k is for topk and batchtopk dictionaries alone, not %s with l1 values", arch)
	case len(opt.L1s) > 0 && arch != ReLU:
		return nil, fmt.Errorf("sae: a sweep over l1 is for relu dictionaries, not %s", arch)
	case opt.Steps < 1:
		return nil, fmt.Errorf("sae: a curve needs at least one training step, got %d", opt.Steps)
	}
	n := max(len(opt.Ks), len(opt.L1s))
	var pts []CurvePoint
	for i := range n {
		c, tc := opt.Base, opt.Train
		var pt CurvePoint
		if len(opt.Ks) > 0 {
			c.K, pt.K = opt.Ks[i], opt.Ks[i]
		} else {
			tc.L1, pt.L1 = opt.L1s[i], opt.L1s[i]
		}
		s, err := New(c, opt.Seed)
		if err != nil {
			return nil, err
		}
		tr, err := NewTrainer(s, tc)
		if err != nil {
			return nil, err
		}
		src, err := NewSource(m, c.HookName, c.HookNameOut, newBatches(), opt.Rows, opt.Seed)
		if err != nil {
			return nil, err
		}
		if _, _, err := tr.Run(ctx, src, opt.Steps, nil); err != nil {
			return nil, err
		}
		f, err := s.Evaluate(ctx, m, held)
		if err != nil {
			return nil, err
		}
		pt.L0, pt.FVU, pt.CERecovered, pt.DeadFraction = f.L0, f.FVU, f.CERecovered, f.DeadFraction
		pts = append(pts, pt)
	}
	return pts, nil
}
