package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/transformer"
)

// maxExamples is the number of attention edges shown per detector.
const maxExamples = 3

// detectorExample is one TransformerLens detector's strongest head at work
// on a sequence: the edges (destination → source) that the detector looks
// for, strongest attention first. It is part of `workbench analyze
// --json`'s contract ("detector_examples").
type detectorExample struct {
	Detector string        `json:"detector"` // prev_token, duplicate_token, induction
	Head     string        `json:"head"`
	Score    float64       `json:"score"` // the head's detector score over every sequence
	Edges    []exampleEdge `json:"edges"` // at most maxExamples
}

// exampleEdge is one attention weight of a head, with the tokens it joins.
type exampleEdge struct {
	Dest      int     `json:"dest"`
	Src       int     `json:"src"`
	Weight    float64 `json:"weight"`
	DestToken int     `json:"dest_token"`
	SrcToken  int     `json:"src_token"`
	DestPiece string  `json:"dest_piece"`
	SrcPiece  string  `json:"src_piece"`
}

// detectorExamples finds, for each detector r holds scores of, the head
// that scores highest and the edges of seq where the detector's pattern is
// not zero, by the head's attention weight on seq.
func detectorExamples(ctx context.Context, r *circuits.Report, m *transformer.Model, seq []int, v *vocab) ([]detectorExample, error) {
	p, err := circuits.RunPatterns(ctx, m, [][]int{seq})
	if err != nil {
		return nil, err
	}
	out := []detectorExample{}
	for _, d := range []struct {
		name   string
		scores [][]float64
		det    circuits.DetectionPattern
	}{
		{"prev_token", r.PrevTokenScore, circuits.PrevTokenPattern},
		{"duplicate_token", r.DuplicateTokenScore, circuits.DuplicateTokenPattern},
		{"induction", r.InductionScore, circuits.InductionPattern},
	} {
		bl, bh := 0, 0
		for l := range d.scores {
			for h, s := range d.scores[l] {
				if s > d.scores[bl][bh] {
					bl, bh = l, h
				}
			}
		}
		pat, err := p.Pattern(0, bl, bh)
		if err != nil {
			return nil, err
		}
		want := d.det(seq)
		ex := detectorExample{Detector: d.name, Head: circuits.HeadLabel(bl, bh), Score: d.scores[bl][bh], Edges: []exampleEdge{}}
		for dst := range seq {
			for src := 0; src <= dst; src++ {
				if want.At(dst, src) != 0 {
					ex.Edges = append(ex.Edges, exampleEdge{Dest: dst, Src: src, Weight: pat.At(dst, src),
						DestToken: seq[dst], SrcToken: seq[src], DestPiece: v.piece(seq[dst]), SrcPiece: v.piece(seq[src])})
				}
			}
		}
		slices.SortStableFunc(ex.Edges, func(a, b exampleEdge) int { return cmp.Compare(b.Weight, a.Weight) })
		ex.Edges = ex.Edges[:min(len(ex.Edges), maxExamples)]
		out = append(out, ex)
	}
	return out, nil
}

// writeDetectorExamples prints the examples for people, tokens as text
// with whitespace visible.
func writeDetectorExamples(w io.Writer, v *vocab, examples []detectorExample) error {
	if len(examples) == 0 {
		return nil
	}
	var ew strings.Builder
	fmt.Fprintln(&ew, "\nDetectors at work on sequence 0 (each detector's strongest head; attention from → to, where the detector looks):")
	for _, ex := range examples {
		fmt.Fprintf(&ew, "  %s %s (%.3f):", ex.Detector, ex.Head, ex.Score)
		if len(ex.Edges) == 0 {
			fmt.Fprint(&ew, " no such positions in this sequence")
		}
		for k, e := range ex.Edges {
			if k > 0 {
				fmt.Fprint(&ew, ";")
			}
			fmt.Fprintf(&ew, " %s@%d → %s@%d %.2f", v.label(e.DestToken), e.Dest, v.label(e.SrcToken), e.Src, e.Weight)
		}
		fmt.Fprintln(&ew)
	}
	_, err := io.WriteString(w, ew.String())
	return err
}
