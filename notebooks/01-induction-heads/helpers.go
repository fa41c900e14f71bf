package main

import (
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/tensor"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x01d)) }

// headPattern returns head h's pattern for sequence 0 of p [batch, head,
// query_pos, key_pos] as [query][key].
func headPattern(p *tensor.Tensor, h int) [][]float64 {
	T := p.Shape[2]
	out := make([][]float64, T)
	for q := range T {
		out[q] = make([]float64, T)
		for k := range T {
			out[q][k] = float64(p.Data[(h*T+q)*T+k])
		}
	}
	return out
}

func tokenLabels(toks []int) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = strconv.Itoa(t)
	}
	return out
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// flat concatenates [layer][head] scores layer by layer, the order of
// circuits.HeadLabels.
func flat(x [][]float64) []float64 {
	var out []float64
	for _, row := range x {
		out = append(out, row...)
	}
	return out
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func labelsOf(layer int, hs []int) string {
	s := make([]string, len(hs))
	for i, h := range hs {
		s[i] = circuits.HeadLabel(layer, h)
	}
	return strings.Join(s, ", ")
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
