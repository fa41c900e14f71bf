package main

import (
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/mechinterp/workbench/circuits"
)

// rows returns a matrix as [row][col].
func rows(m *mat.Dense) [][]float64 {
	r, _ := m.Dims()
	out := make([][]float64, r)
	for i := range out {
		out[i] = append([]float64(nil), m.RawRowView(i)...)
	}
	return out
}

// flat concatenates [layer][head] scores in the order of circuits.HeadLabels.
func flat(x [][]float64) []float64 {
	var out []float64
	for _, row := range x {
		out = append(out, row...)
	}
	return out
}

// bestHead returns the head of layer l with the largest score.
func bestHead(scores [][]float64, l int) int {
	best := 0
	for h, v := range scores[l] {
		if v > scores[l][best] {
			best = h
		}
	}
	return best
}

func headList(hs []circuits.HeadScore) string {
	if len(hs) == 0 {
		return "none"
	}
	s := make([]string, len(hs))
	for i, h := range hs {
		s[i] = h.Label
	}
	return strings.Join(s, ", ")
}

func inductionList(hs []circuits.InductionHead) string {
	s := make([]circuits.HeadScore, len(hs))
	for i, h := range hs {
		s[i] = h.HeadScore
	}
	return headList(s)
}
