package figures

import (
	"fmt"
	"io"
	"math"
	"testing"
)

func BenchmarkHeatmap(b *testing.B) {
	const n = 40
	tokens := make([]string, n)
	pattern := make([][]float64, n)
	for q := range pattern {
		tokens[q] = fmt.Sprintf(" tok%d", q)
		pattern[q] = make([]float64, n)
		for k := 0; k <= q; k++ {
			pattern[q][k] = math.Exp(-float64(q-k)) / 1.6
		}
	}
	f, err := AttentionPattern("L1H0", pattern, tokens)
	if err != nil {
		b.Fatal(err)
	}
	for _, format := range []string{"png", "svg"} {
		b.Run(fmt.Sprintf("cells=%dx%d/px=600x600/%s", n, n, format), func(b *testing.B) {
			b.ReportAllocs()
			render := f.PNG
			if format == "svg" {
				render = f.SVG
			}
			for b.Loop() {
				if err := render(io.Discard, 600, 600); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "figures/s")
		})
	}
}
