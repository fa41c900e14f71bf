package main

import (
	"cmp"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/figures"
)

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func cmpFloat(a, b float64) int { return cmp.Compare(a, b) }

func labels(layer int, hs []int) string {
	s := make([]string, len(hs))
	for i, h := range hs {
		s[i] = circuits.HeadLabel(layer, h)
	}
	return strings.Join(s, ", ")
}

// minOf returns the smallest value of any group.
func minOf(gs []figures.BarGroup) float64 {
	m := 0.0
	for _, g := range gs {
		if len(g.Values) > 0 {
			m = min(m, slices.Min(g.Values))
		}
	}
	return m
}
