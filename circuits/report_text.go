package circuits

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// maxTableHeads bounds the per-mode composition tables of WriteText: a model
// with more heads than this gets only the strongest pairs.
const maxTableHeads = 32

// WriteText writes the report for people: the model's shapes, the
// baselines, the strongest compositions as multiples of the baseline, a
// per-head table, composition tables for small models, and the heads that
// look like previous-token, induction and copying heads, named. It returns
// the first write error.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	r.writeSummary(ew)
	r.writeStrongest(ew)
	r.writeHeadTable(ew)
	if r.NLayers > 1 && r.NLayers*r.NHeads <= maxTableHeads {
		for _, mode := range []string{"K", "Q", "V"} {
			r.writeCompositionTable(ew, mode)
		}
	}
	r.writeRoles(ew)
	return ew.err
}

// errWriter keeps the first write error and drops later writes.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	_, e.err = e.w.Write(p)
	return len(p), nil
}

func (r *Report) writeSummary(w io.Writer) {
	fmt.Fprintf(w, "Model: %d layers × %d heads, d_model %d, d_head %d, d_vocab %d → %d\n",
		r.NLayers, r.NHeads, r.DModel, r.DHead, r.DVocab, r.DVocabOut)
	b := r.SampledBaseline
	fmt.Fprintf(w, "Composition baseline: 1/√d_model = %.4f; %d random head pairs of these shapes score %.4f ± %.4f.\n",
		r.CompositionBaseline, b.Samples, b.Mean, b.Std)
	fmt.Fprintln(w, "Scores near the baseline are what unrelated heads give: read compositions as multiples of it.")
}

func (r *Report) writeStrongest(w io.Writer) {
	if len(r.Strongest) == 0 {
		return
	}
	fmt.Fprintf(w, "\nStrongest compositions (writer → reader):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\twriter\treader\tscore\t× baseline\t")
	for _, p := range r.Strongest {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4f\t%.2f×\t\n", p.Mode, p.Writer, p.Reader, p.Score, p.Relative)
	}
	tw.Flush()
}

func (r *Report) writeHeadTable(w io.Writer) {
	fmt.Fprintln(w)
	if r.Repeated.Sequences > 0 {
		fmt.Fprintf(w, "Per head. On %d sequences of %d random tokens repeated %d times: prev = attention to the previous token,\n",
			r.Repeated.Sequences, r.Repeated.Block, r.Repeated.Repeats)
		fmt.Fprintln(w, "prefix = prefix matching (Olsson et al.), copy = fraction of positions whose token the head's OV output raises.")
	} else {
		fmt.Fprintf(w, "Per head (no repeated-token scores: %s).\n", r.Repeated.Note)
	}
	fmt.Fprintln(w, "OV+ = full OV circuit eigenvalue positivity Σλ/Σ|λ|, top1 = fraction of tokens the full OV circuit maps to themselves.")
	if r.PrevTokenScore != nil {
		fmt.Fprintln(w, "On the given tokens (TransformerLens detect_head, \"mul\"): tl-prev, tl-dup, tl-ind.")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	cols := []string{"head", "OV+", "top1"}
	if r.Repeated.Sequences > 0 {
		cols = append(cols, "prev", "prefix", "copy")
	}
	if r.PrevTokenScore != nil {
		cols = append(cols, "tl-prev", "tl-dup", "tl-ind")
	}
	fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	for l := range r.NLayers {
		for h := range r.NHeads {
			vals := []float64{r.OVEigenPositivity[l][h], r.FullOVTop1[l][h]}
			if r.Repeated.Sequences > 0 {
				vals = append(vals, r.RepeatedPrevToken[l][h], r.PrefixMatchingScore[l][h], r.CopyingScore[l][h])
			}
			if r.PrevTokenScore != nil {
				vals = append(vals, r.PrevTokenScore[l][h], r.DuplicateTokenScore[l][h], r.InductionScore[l][h])
			}
			fmt.Fprint(tw, HeadLabel(l, h))
			for _, v := range vals {
				fmt.Fprintf(tw, "\t%.3f", v)
			}
			fmt.Fprintln(tw, "\t")
		}
	}
	tw.Flush()
}

// writeCompositionTable prints one mode's scores, as multiples of the
// baseline, with writers as rows and later-layer readers as columns.
func (r *Report) writeCompositionTable(w io.Writer, mode string) {
	g := r.Composition.modes()[strings.Index("QKV", mode)]
	fmt.Fprintf(w, "\n%s-composition, × baseline (rows: writer, columns: reader):\n", mode)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for l2 := 1; l2 < r.NLayers; l2++ {
		for h2 := range r.NHeads {
			fmt.Fprintf(tw, "%s\t", HeadLabel(l2, h2))
		}
	}
	fmt.Fprintln(tw)
	for l1 := 0; l1+1 < r.NLayers; l1++ {
		for h1 := range r.NHeads {
			fmt.Fprintf(tw, "%s\t", HeadLabel(l1, h1))
			for l2 := 1; l2 < r.NLayers; l2++ {
				for h2 := range r.NHeads {
					if l2 <= l1 {
						fmt.Fprint(tw, "·\t")
						continue
					}
					fmt.Fprintf(tw, "%.2f\t", g[l1][h1][l2][h2]/r.CompositionBaseline)
				}
			}
			fmt.Fprintln(tw)
		}
	}
	tw.Flush()
}

func (r *Report) writeRoles(w io.Writer) {
	if r.Repeated.Sequences == 0 {
		return
	}
	list := func(hs []HeadScore) string {
		if len(hs) == 0 {
			return "none"
		}
		s := make([]string, len(hs))
		for i, h := range hs {
			s[i] = fmt.Sprintf("%s (%.2f)", h.Label, h.Score)
		}
		return strings.Join(s, ", ")
	}
	fmt.Fprintln(w, "\nHeads that look like:")
	fmt.Fprintf(w, "  previous-token heads (≥ %.0f%% of attention on the previous token): %s\n", 100*PrevTokenThreshold, list(r.PrevTokenHeads))
	fmt.Fprintf(w, "  induction heads (prefix matching ≥ %.2f):", InductionThreshold)
	if len(r.InductionHeads) == 0 {
		fmt.Fprint(w, " none")
	}
	fmt.Fprintln(w)
	for _, ih := range r.InductionHeads {
		fmt.Fprintf(w, "    %s (%.2f)", ih.Label, ih.Score)
		if ih.KWriter != "" {
			kind := "not a previous-token head"
			if ih.WriterIsPrevToken {
				kind = "a previous-token head"
			}
			fmt.Fprintf(w, ": strongest K-composition from %s, %.4f = %.2f× baseline, K-circuit eigenvalue positivity %.2f; %s is %s",
				ih.KWriter, ih.K, ih.KRelative, ih.KPositivity, ih.KWriter, kind)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  copying heads (copy ≥ %.2f and top1 ≥ %.2f): %s\n", CopyingThreshold, CopyingTop1, list(r.CopyingHeads))
}
