package discover

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// ACDCResult is what ACDC returns: the circuit and what it cost.
type ACDCResult struct {
	Keep []bool // one per edge of the graph
	// Delta is, for each edge ACDC tested, how much removing it raised the
	// cost at that point (the score it was kept or pruned by); 0 for edges
	// pruned untested, their receiver no longer reaching the logits.
	Delta []float64
	// Cost is the circuit's distance from the full model: its metric if the
	// metric is KL, else |metric − full metric|.
	Cost        float64
	Evaluations int // forward passes run
}

// ACDC prunes the graph by automatic circuit discovery (Conmy et al.
// 2023): starting from the full graph, it visits the receivers from the
// logits backwards, and each receiver's edges from the latest sender to
// the earliest, and removes an edge when removing it raises the circuit's
// cost (its distance from the full model: the metric itself for KL, else
// |metric − full|) by less than tau. A receiver whose node no longer
// reaches the logits loses its edges without a test. The result holds no
// dangling edges (Graph.Reachable). progress, if not nil, is called after
// each receiver with the number of receivers done and their total.
func (e *Experiment) ACDC(ctx context.Context, tau float64, progress func(done, total int)) (*ACDCResult, error) {
	if math.IsNaN(tau) || tau < 0 {
		return nil, fmt.Errorf("discover: ACDC threshold %g: want τ ≥ 0", tau)
	}
	g := e.g
	keep := g.Full()
	res := &ACDCResult{Delta: make([]float64, len(g.Edges))}
	cost := func(v float64) float64 {
		if _, ok := e.metric.(*KL); ok {
			return v
		}
		return math.Abs(v - e.full)
	}
	cur := cost(e.full)
	live := map[Node]bool{{Kind: Logits}: true}
	for ri := len(g.Receivers) - 1; ri >= 0; ri-- {
		into := g.into[ri]
		if !g.readers(g.Receivers[ri], live) {
			for _, ei := range into {
				keep[ei] = false
			}
			continue
		}
		for _, ei := range slices.Backward(into) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			keep[ei] = false
			v, err := e.Evaluate(ctx, keep)
			if err != nil {
				return nil, err
			}
			res.Evaluations++
			c := cost(v)
			res.Delta[ei] = c - cur
			if c-cur < tau {
				cur = c
				continue
			}
			keep[ei] = true
			live[g.Edges[ei].From] = true
		}
		if progress != nil {
			progress(len(g.Receivers)-ri, len(g.Receivers))
		}
	}
	res.Keep = g.Reachable(keep)
	res.Cost = cur
	return res, nil
}

// Point is one point of a faithfulness curve: a circuit of Edges edges
// (the highest-scoring ones) and its metric, also as the fraction of the
// full model's behaviour it recovers, (metric − empty)/(full − empty).
type Point struct {
	Edges    int     `json:"edges"`
	Metric   float64 `json:"metric"`
	Fraction float64 `json:"fraction"`
}

// Faithfulness is a method's faithfulness curve and its two summary
// numbers (as in MIB, Mueller et al. 2025).
type Faithfulness struct {
	Curve []Point `json:"curve"`
	// Area is the area under the curve of Fraction against the fraction of
	// edges kept, from 0 to 1 (trapezoids between the evaluated sizes): 1
	// for a method whose first edge recovers everything.
	Area float64 `json:"area"`
	// SizeAt is the smallest evaluated circuit size whose fraction reaches
	// Target, or −1 if none does.
	SizeAt int     `json:"size_at"`
	Target float64 `json:"target"`
}

// Faithfulness evaluates the circuits made of the top k edges by |score|,
// for k = 0, 1, 2, 4, … and every edge, plus points evenly spaced sizes
// when points is larger than that (points > the edge count evaluates every
// size), and summarises the curve with the circuit size reaching target.
func (e *Experiment) Faithfulness(ctx context.Context, scores []float64, target float64, points int) (*Faithfulness, error) {
	g := e.g
	if len(scores) != len(g.Edges) {
		return nil, fmt.Errorf("discover: %d scores for %d edges", len(scores), len(g.Edges))
	}
	E := len(g.Edges)
	sizes := []int{0}
	for k := 1; k < E; k *= 2 {
		sizes = append(sizes, k)
	}
	sizes = append(sizes, E)
	if points > len(sizes) {
		// Add evenly spaced sizes; points > E evaluates every size.
		for i := 1; i < points; i++ {
			sizes = append(sizes, i*E/(points-1))
		}
		slices.Sort(sizes)
		sizes = slices.Compact(sizes)
	}
	f := &Faithfulness{SizeAt: -1, Target: target}
	span := e.full - e.empty
	for _, k := range sizes {
		v, err := e.Evaluate(ctx, g.Top(scores, k))
		if err != nil {
			return nil, err
		}
		frac := math.NaN()
		if span != 0 {
			frac = (v - e.empty) / span
		}
		f.Curve = append(f.Curve, Point{Edges: k, Metric: v, Fraction: frac})
		if f.SizeAt < 0 && frac >= target {
			f.SizeAt = k
		}
	}
	for i := 1; i < len(f.Curve); i++ {
		a, b := f.Curve[i-1], f.Curve[i]
		f.Area += (b.Fraction + a.Fraction) / 2 * float64(b.Edges-a.Edges) / float64(E)
	}
	return f, nil
}

// AUC returns the area under the ROC curve of |score| as a classifier of
// the edges in truth (one bool per edge): the probability that a true
// edge outscores a false one, ties counting half. It is NaN when truth
// holds no edge or every edge.
func AUC(scores []float64, truth []bool) float64 {
	var pos, neg []float64
	for i, s := range scores {
		if truth[i] {
			pos = append(pos, abs(s))
		} else {
			neg = append(neg, abs(s))
		}
	}
	if len(pos) == 0 || len(neg) == 0 {
		return math.NaN()
	}
	slices.Sort(neg)
	var wins float64
	for _, p := range pos {
		lo, _ := slices.BinarySearch(neg, p) // neg[:lo] < p
		hi := lo
		for hi < len(neg) && neg[hi] == p {
			hi++
		}
		wins += float64(lo) + float64(hi-lo)/2
	}
	return wins / float64(len(pos)*len(neg))
}

// BoolScores turns a circuit into scores (1 kept, 0 not) for AUC.
func BoolScores(keep []bool) []float64 {
	s := make([]float64, len(keep))
	for i, k := range keep {
		if k {
			s[i] = 1
		}
	}
	return s
}
