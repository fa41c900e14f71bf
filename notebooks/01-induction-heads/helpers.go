package main

import (
	"fmt"
	"math"
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

// lossBump is the largest rise of a training-loss curve: the step where
// the smoothed loss stands highest above its lowest value so far, and that
// rise as a fraction of the lowest value.
type lossBump struct {
	step float64
	rise float64
}

// Smoothing and visibility of a loss bump. A rise counts as a visible
// bump when the loss, averaged over bumpWindow logged points (noise between
// steps is not a bump), climbs at least bumpVisible (20%) above its lowest
// value so far: on the notebook's log-scale loss figure, 20% is a twelfth
// of a decade, a few pixels; less is lost in the line's own wiggle.
const (
	bumpWindow  = 5
	bumpVisible = 0.2
)

// visibleBump finds the largest rise of loss (logged at steps) above its
// running minimum, after a moving average over bumpWindow points.
func visibleBump(steps, loss []float64) lossBump {
	var b lossBump
	low := math.Inf(1)
	for i := bumpWindow - 1; i < len(loss); i++ {
		var s float64
		for _, v := range loss[i-bumpWindow+1 : i+1] {
			s += v
		}
		s /= bumpWindow
		if low > 0 && !math.IsInf(low, 1) {
			if r := (s - low) / low; r > b.rise {
				b = lossBump{step: steps[i], rise: r}
			}
		}
		low = min(low, s)
	}
	return b
}

// visible reports whether the rise is large enough to see on the figure.
func (b lossBump) visible() bool { return b.rise >= bumpVisible }

// describe says what the loss curve shows, for the report.
func (b lossBump) describe() string {
	if b.visible() {
		return fmt.Sprintf("the smoothed training loss rises %.0f%% above its lowest value so far at step %.0f, a visible bump", 100*b.rise, b.step)
	}
	return fmt.Sprintf("no visible loss bump: the smoothed training loss never rises more than %.0f%% above its lowest value so far "+
		"(a bump is marked from %.0f%%)", 100*b.rise, 100*bumpVisible)
}
