package main

import (
	"context"
	"math"
	"slices"
)

// Phase classes of the n = 2, m = 1 model (the paper's section 4, "Superposition
// as a Phase Change"): feature 1 has importance 1, the extra feature 2 has
// importance r.
const (
	phaseIgnored    = 0 // feature 2 is not represented (‖W_2‖ small)
	phaseSuperposed = 1 // both features share the one dimension, antipodally
	phaseDedicated  = 2 // feature 2 takes the dimension and feature 1 is dropped
)

// representedNorm is the ‖W_i‖ above which a feature counts as represented:
// a represented feature has ‖W_i‖ ≈ 1 and an ignored one ≈ 0, so the midpoint
// separates them.
const representedNorm = 0.5

var phaseNames = [...]string{"ignored", "superposed", "dedicated"}

// phaseCell is one point of the phase diagram.
type phaseCell struct {
	Density    float64 `json:"density"`    // 1 − S
	Importance float64 `json:"importance"` // r, the extra feature's importance
	W1         float64 `json:"w1"`         // the 1×2 weight matrix of the best seed
	W2         float64 `json:"w2"`
	Loss       float64 `json:"loss"`
	Phase      int     `json:"phase"`
}

// classify names the phase of W = (w1, w2). Superposition is both features
// represented in opposite directions; two features of the same sign are a
// single mixed direction (the degenerate dense, equal-importance case) and
// are named after the larger.
func classify(w1, w2 float64) int {
	switch {
	case math.Abs(w2) < representedNorm:
		return phaseIgnored
	case math.Abs(w1) >= representedNorm && w1*w2 < 0:
		return phaseSuperposed
	case math.Abs(w2) > math.Abs(w1):
		return phaseDedicated
	default:
		return phaseIgnored
	}
}

// phaseDiagram trains the n = 2, m = 1 model at every (density, importance)
// pair, seeds times from different initialisations, keeps the lowest-loss
// run (training can stall in a worse local minimum, as in the paper) and
// classifies it. Rows follow importances, columns densities. Gradient
// descent cannot move w1 and w2 through a sign change without passing
// through a worse point, so odd seeds start them with opposite signs and even
// seeds with the same sign: both basins are always tried.
func phaseDiagram(ctx context.Context, densities, importances []float64, seeds, steps, batch int, seed uint64) ([][]phaseCell, error) {
	cells := make([][]phaseCell, len(importances))
	for i, r := range importances {
		cells[i] = make([]phaseCell, len(densities))
		for j, d := range densities {
			best := toyResult{Loss: math.Inf(1)}
			for s := range seeds {
				opposite := s%2 == 1
				res, err := trainToy(ctx, toyConfig{N: 2, M: 1, Sparsity: 1 - d, Importance: []float64{1, r},
					Batch: batch, Steps: steps, LR: 0.01, Seed: seed + uint64(1000*i+100*j+s),
					Init: func(W []float32) {
						if (W[0]*W[1] < 0) != opposite {
							W[1] = -W[1]
						}
					}})
				if err != nil {
					return nil, err
				}
				if res.Loss < best.Loss {
					best = res
				}
			}
			w1, w2 := best.W[0][0], best.W[0][1]
			cells[i][j] = phaseCell{Density: d, Importance: r, W1: w1, W2: w2, Loss: best.Loss, Phase: classify(w1, w2)}
		}
	}
	return cells, nil
}

// logSpace returns k values from lo to hi evenly spaced in log.
func logSpace(lo, hi float64, k int) []float64 {
	v := make([]float64, k)
	for i := range v {
		t := 0.0
		if k > 1 {
			t = float64(i) / float64(k-1)
		}
		v[i] = lo * math.Pow(hi/lo, t)
	}
	return v
}

// bestOf trains c with seeds c.Seed, c.Seed+1, … and returns the run with
// the lowest final loss.
func bestOf(ctx context.Context, c toyConfig, seeds int) (toyResult, error) {
	best := toyResult{Loss: math.Inf(1)}
	for s := range seeds {
		c := c
		c.Seed += uint64(s)
		res, err := trainToy(ctx, c)
		if err != nil {
			return toyResult{}, err
		}
		if res.Loss < best.Loss {
			best = res
		}
	}
	return best, nil
}

// represented counts the features with ‖W_i‖ ≥ representedNorm.
func represented(r toyResult) int {
	n := 0
	for _, v := range r.norms() {
		if v >= representedNorm {
			n++
		}
	}
	return n
}

// angles returns the angle of each represented feature's direction in the
// plane (m = 2), in degrees in [0, 360), sorted, and the gaps between
// neighbours around the circle.
func angles(r toyResult) (deg, gaps []float64) {
	for i, v := range r.norms() {
		if v >= representedNorm {
			a := math.Atan2(r.W[1][i], r.W[0][i]) * 180 / math.Pi
			if a < 0 {
				a += 360
			}
			deg = append(deg, a)
		}
	}
	slices.Sort(deg)
	for i := range deg {
		next := deg[(i+1)%len(deg)]
		if i == len(deg)-1 {
			next += 360
		}
		gaps = append(gaps, next-deg[i])
	}
	return deg, gaps
}
