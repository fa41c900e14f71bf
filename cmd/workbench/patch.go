package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/patching"
)

func runPatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("patch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	var tf textFlags
	tf.register(fs)
	var cleanIn, corruptedIn tokenInput
	cleanIn.register(fs, "clean", "JSON `FILE` holding the clean token sequences ([[1, 2, 3], ...])", "clean-text")
	corruptedIn.register(fs, "corrupted", "JSON `FILE` holding the corrupted token sequences, the same shape as --clean", "corrupted-text")
	metricName := fs.String("metric", "logit-diff", "`METRIC`: logit-diff (answer − wrong logit), prob (of the answer) or loss (cross-entropy)")
	answer := fs.String("answer", "", "answer token `IDS`: one id for every sequence, or one per sequence, comma-separated; with text input, the answer's text (one token, e.g. \" Mary\")")
	wrong := fs.String("wrong", "", "wrong token `IDS` for logit-diff, as --answer (with text input, text: \" John\")")
	pos := fs.Int("pos", patching.Last, "`POSITION` the metric reads; negative counts from the end")
	what := fs.String("what", "", "activation to patch: resid_pre, resid_post, attn_out, mlp_out, head_out, q, k, v or pattern")
	byPos := fs.Bool("by-pos", true, "patch one position at a time (a column per position); false patches all positions at once")
	normalize := fs.Bool("normalize", false, "with --json, report (metric − corrupted)/(clean − corrupted): 1 = clean, 0 = corrupted (the table always does, unless --raw)")
	raw := fs.Bool("raw", false, "print the table in the metric's own values rather than normalised (1 = clean, 0 = corrupted)")
	attribution := fs.Bool("attribution", false, "add the attribution-patching estimate and its agreement with the exact sweep")
	topK := fs.Int("top-k", 5, "number of sites `K` compared by --attribution's top-k overlap")
	workers := fs.Int("workers", 2, "number of patches run at once")
	batch := fs.Int("batch", evalBatch, "sequences patched at once (memory grows with it; the files may hold any number, and the metric is averaged over all)")
	asJSON := fs.Bool("json", false, `print {"what", "metric", "clean", "corrupted", "normalized", "axes", "values"} (and "attribution", "agreement"); clean and corrupted are the runs' metric values; text input adds "clean_tokens", "clean_pieces", "corrupted_tokens", "corrupted_pieces", "answer_token", "answer_piece", "wrong_token", "wrong_piece"`)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: workbench patch --model FILE [--config FILE] --clean FILE --corrupted FILE")
		fmt.Fprintln(w, "         --metric logit-diff --answer A --wrong B --what resid_pre|attn_out|mlp_out|head_out [--json]")
		fmt.Fprintln(w, "       workbench patch --model DIR --clean-text S --corrupted-text S --answer \" Mary\" --wrong \" John\" --what ...")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Activation patching, clean → corrupted: writes each clean activation of one kind, layer by")
		fmt.Fprintln(w, "layer (head by head, position by position), into the corrupted run and reports the metric.")
		fmt.Fprintln(w, "Metrics are averaged over the batch. loss without --answer is the next-token cross-entropy")
		fmt.Fprintln(w, "of the clean sequences over all positions; with --answer, −log p(answer) at --pos.")
		fmt.Fprintln(w, "The files are read --batch sequences at a time, so memory does not grow with them.")
		fmt.Fprintln(w, "Text input (--clean-text and --corrupted-text, or their -file forms) is one sequence each,")
		fmt.Fprintln(w, "encoded with the model's tokenizer (or --tokenizer's); both must have the same number of")
		fmt.Fprintln(w, "tokens, and --answer and --wrong are then text that must be one token each.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("patch: unexpected argument %q", fs.Arg(0))
	}
	if *what == "" {
		return fmt.Errorf("patch: --what is required")
	}
	kind, err := patching.ParseKind(*what)
	if err != nil {
		return err
	}
	if *workers < 1 || *batch < 1 {
		return fmt.Errorf("patch: --workers and --batch must be at least 1, got %d and %d", *workers, *batch)
	}
	if cleanIn.isText(fs) != corruptedIn.isText(fs) && len(cleanIn.given(fs)) == 1 && len(corruptedIn.given(fs)) == 1 {
		return fmt.Errorf("patch: give the clean and corrupted runs alike: both as text (--clean-text, --corrupted-text) or both as token files (--clean, --corrupted), not %s with %s",
			cleanIn.given(fs)[0], corruptedIn.given(fs)[0])
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	v, err := tf.load("patch", mf.model, m, stderr)
	if err != nil {
		return err
	}
	cleanR, cleanText, err := v.open(fs, &cleanIn)
	if err != nil {
		return err
	}
	defer cleanR.Close()
	corruptedR, corruptedText, err := v.open(fs, &corruptedIn)
	if err != nil {
		return err
	}
	defer corruptedR.Close()
	var ans, wr []int
	if cleanText != nil {
		if err := sameLength(v, cleanIn, corruptedIn, cleanText, corruptedText); err != nil {
			return err
		}
		if ans, err = v.optionalToken("--answer", *answer); err != nil {
			return err
		}
		if wr, err = v.optionalToken("--wrong", *wrong); err != nil {
			return err
		}
	} else {
		if ans, err = parseIDs("--answer", *answer); err != nil {
			return err
		}
		if wr, err = parseIDs("--wrong", *wrong); err != nil {
			return err
		}
	}
	opt := patching.Options{ByPos: *byPos, Workers: *workers}
	var g, attr *patching.Grid
	var clean, corrupted [][]int
	var first [2][]int // the first clean and corrupted sequences, which label a one-sequence table
	n := 0
	for {
		var errA, errB error
		clean, errA = cleanR.batch(clean, *batch)
		corrupted, errB = corruptedR.batch(corrupted, *batch)
		if err := errors.Join(ignoreEOF(errA), ignoreEOF(errB)); err != nil {
			return err
		}
		if len(clean) != len(corrupted) {
			return fmt.Errorf("patch: --clean and --corrupted must match: they hold different numbers of sequences (%d and %d at least)", n+len(clean), n+len(corrupted))
		}
		if len(clean) == 0 {
			break
		}
		if n == 0 {
			first = [2][]int{slices.Clone(clean[0]), slices.Clone(corrupted[0])}
			T := len(clean[0])
			// A sweep holds the clean run's activations, the corrupted run's,
			// and one patched run per worker; attribution adds gradients.
			if err := checkMemory(fmt.Sprintf("patch: a batch of %d sequences of %d tokens with %d workers", len(clean), T, *workers),
				float64(4+*workers)*forwardBytes(m.Cfg, len(clean), T), "lower --batch or --workers"); err != nil {
				return err
			}
		}
		for _, ids := range []struct {
			flag string
			ids  []int
		}{{"--answer", ans}, {"--wrong", wr}} {
			if len(ids.ids) > 1 && len(ids.ids) < n+len(clean) {
				return fmt.Errorf("patch: %d %s ids for at least %d sequences (want 1 or one per sequence)", len(ids.ids), ids.flag, n+len(clean))
			}
		}
		metric, err := patchMetric(*metricName, idsFor(ans, n, len(clean)), idsFor(wr, n, len(clean)), *pos, clean)
		if err != nil {
			return err
		}
		e, err := patching.New(ctx, m, clean, corrupted, metric)
		if err != nil {
			return fmt.Errorf("patch: sequences %d..%d: %w", n, n+len(clean)-1, err)
		}
		part, err := e.Sweep(ctx, kind, opt)
		if err != nil {
			return err
		}
		g = addGrid(g, part, len(clean))
		if *attribution {
			a, err := e.Attribute(ctx, kind, opt)
			if err != nil {
				return err
			}
			attr = addGrid(attr, a, len(clean))
		}
		n += len(clean)
	}
	for flag, ids := range map[string][]int{"--answer": ans, "--wrong": wr} {
		if len(ids) > 1 && len(ids) != n {
			return fmt.Errorf("patch: %d %s ids for %d sequences (want 1 or %d)", len(ids), flag, n, n)
		}
	}
	scaleGrid(g, n)
	if attr != nil {
		scaleGrid(attr, n)
	}
	// People read a normalised sweep (1 = clean, 0 = corrupted); --json
	// keeps the metric's own values unless --normalize asks.
	normNote := ""
	if *normalize || !*asJSON && !*raw {
		ng, nerr := g.Normalize()
		switch {
		case nerr != nil && *normalize:
			return nerr
		case nerr != nil:
			normNote = fmt.Sprintf("values are the metric itself: the clean and corrupted runs score alike (%.4g), so there is nothing to normalise by", g.Clean)
		default:
			g = ng
			if attr != nil {
				if attr, err = attr.Normalize(); err != nil {
					return err
				}
			}
		}
	}
	var agree *patching.Agreement
	if attr != nil {
		a, err := patching.Compare(g, attr, *topK)
		if err != nil {
			return err
		}
		agree = &a
	}
	if *asJSON {
		var extra bytes.Buffer
		if err := writePatchTextJSON(&extra, v, cleanText, corruptedText, ans, wr); err != nil {
			return err
		}
		return writePatchJSON(stdout, g, attr, agree, extra.Bytes())
	}
	writeAnswers(stdout, v, ans, wr)
	writePatchTable(stdout, g, attr, agree, patchInput{v: v, clean: first[0], corrupted: first[1], n: n, note: normNote})
	return nil
}

// ignoreEOF returns err unless it is io.EOF.
func ignoreEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// idsFor returns the token ids of sequences n..n+count-1: ids itself when
// it holds one id for all, else its slice for them (the caller checked
// that ids reaches n+count).
func idsFor(ids []int, n, count int) []int {
	if len(ids) <= 1 {
		return ids
	}
	return ids[n : n+count]
}

// addGrid adds part, the grid of a batch of count sequences, weighted by
// count, into sum (nil for the first batch) and returns sum.
func addGrid(sum, part *patching.Grid, count int) *patching.Grid {
	w := float64(count)
	if sum == nil {
		out := *part
		out.Values = make([]float64, len(part.Values))
		out.Clean, out.Corrupted = 0, 0
		sum = &out
	}
	for i, v := range part.Values {
		sum.Values[i] += w * v
	}
	sum.Clean += w * part.Clean
	sum.Corrupted += w * part.Corrupted
	return sum
}

// scaleGrid turns addGrid's weighted sum over n sequences into the mean.
// Every batch's metric is a mean over its sequences, each of which weighs
// the same (equal lengths), so this is the metric over all sequences.
func scaleGrid(g *patching.Grid, n int) {
	for i := range g.Values {
		g.Values[i] /= float64(n)
	}
	g.Clean /= float64(n)
	g.Corrupted /= float64(n)
}

// patchMetric builds the metric the flags ask for on a batch of clean
// sequences, with the batch's answer and wrong ids.
func patchMetric(name string, ans, wr []int, pos int, clean [][]int) (patching.Metric, error) {
	switch name {
	case "logit-diff":
		if ans == nil || wr == nil {
			return nil, fmt.Errorf("patch: --metric logit-diff needs --answer and --wrong")
		}
		return patching.LogitDiff{Answer: ans, Wrong: wr, Pos: pos}, nil
	case "prob":
		if ans == nil {
			return nil, fmt.Errorf("patch: --metric prob needs --answer")
		}
		return patching.Prob{Answer: ans, Pos: pos}, nil
	case "loss":
		if ans == nil {
			return patching.Loss{Targets: patching.NextTokenTargets(clean, 0)}, nil
		}
		if len(ans) != 1 && len(ans) != len(clean) {
			return nil, fmt.Errorf("patch: %d --answer ids for %d sequences (want 1 or %d)", len(ans), len(clean), len(clean))
		}
		targets := make([][]int, len(clean))
		for b, seq := range clean {
			targets[b] = make([]int, len(seq))
			for p := range targets[b] {
				targets[b][p] = -1
			}
			p := pos
			if p < 0 {
				p += len(seq)
			}
			if p < 0 || p >= len(seq) {
				return nil, fmt.Errorf("patch: --pos %d outside sequence %d's %d positions", pos, b, len(seq))
			}
			targets[b][p] = ans[min(b, len(ans)-1)]
		}
		return patching.Loss{Targets: targets}, nil
	}
	return nil, fmt.Errorf("patch: unknown --metric %q (want logit-diff, prob or loss)", name)
}

// parseIDs parses "5" or "5,7,9"; "" gives nil.
func parseIDs(flagName, s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var ids []int
	for _, f := range strings.Split(s, ",") {
		id, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("patch: %s: %q is not a token id", flagName, f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// writePatchJSON prints the grid's JSON (patching.Grid.MarshalJSON) with,
// when attr is not nil, "attribution" (its values, nested alike) and
// "agreement" added, and then the fields in extra (",key:value…").
func writePatchJSON(w io.Writer, g, attr *patching.Grid, agree *patching.Agreement, extra []byte) error {
	b, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if attr != nil {
		extra := struct {
			Attribution any `json:"attribution"`
			Agreement   struct {
				Pearson     *float64 `json:"pearson"` // null when undefined
				TopK        int      `json:"top_k"`
				TopKOverlap float64  `json:"top_k_overlap"`
				MaxAbsError float64  `json:"max_abs_error"`
			} `json:"agreement"`
		}{Attribution: attr.Nested()}
		a := &extra.Agreement
		a.TopK, a.TopKOverlap, a.MaxAbsError = agree.TopK, agree.TopKOverlap, agree.MaxAbsError
		if !math.IsNaN(agree.Pearson) {
			a.Pearson = &agree.Pearson
		}
		more, err := json.Marshal(extra)
		if err != nil {
			return err
		}
		// Both are JSON objects: {grid…} + {extra…} → {grid…, extra…}.
		b = append(append(b[:len(b)-1], ','), more[1:]...)
	}
	_, err = fmt.Fprintf(w, "%s%s}\n", b[:len(b)-1], extra)
	return err
}

// patchInput is what the human table shows of the input: the first
// clean and corrupted sequences (its header rows), the number of sequences
// averaged, and a note about the values, if any.
type patchInput struct {
	v                *vocab
	clean, corrupted []int
	n                int
	note             string
}

// writePatchTable prints the sweep for people: a title with the clean and
// corrupted runs' metric, what the values mean, then each grid as a table
// that fits screenWidth columns, the input tokens above the positions.
func writePatchTable(w io.Writer, g, attr *patching.Grid, agree *patching.Agreement, in patchInput) {
	fmt.Fprintf(w, "patching %s, clean → corrupted; metric %s: clean run %.4g, corrupted run %.4g\n", g.What, g.Metric, g.Clean, g.Corrupted)
	switch {
	case in.note != "":
		fmt.Fprintln(w, in.note)
	case g.Normalized:
		fmt.Fprintln(w, "values normalised: 1 = the clean run's metric, 0 = the corrupted run's (--raw for the metric itself)")
	default:
		fmt.Fprintf(w, "values are the metric %s with the one activation patched in\n", g.Metric)
	}
	if in.n > 1 {
		fmt.Fprintf(w, "averaged over %d sequence pairs; the tokens shown are the first pair's\n", in.n)
	}
	fmt.Fprintln(w, "\nexact:")
	writeGrid(w, g, in)
	if attr == nil {
		return
	}
	fmt.Fprintln(w, "\nattribution estimate (gradient × (clean − corrupted)):")
	writeGrid(w, attr, in)
	fmt.Fprintf(w, "\nagreement with the exact sweep: Pearson %.4f, top-%d overlap %.2f, max |error| %.4g\n",
		agree.Pearson, agree.TopK, agree.TopKOverlap, agree.MaxAbsError)
}

// writeGrid prints a grid as a table: one row per label of its first axis,
// one column per label of its second (or a single column). Position
// columns get header rows: the position, the clean token there and, where
// it differs, the corrupted one.
func writeGrid(w io.Writer, g *patching.Grid, in patchInput) {
	cols := []string{"value"}
	if len(g.Axes) > 1 {
		cols = g.Axes[1]
	}
	var t table
	positions := make([]int, len(cols))
	byPos := len(g.Axes) > 1 && len(in.clean) > 0
	for c, label := range cols {
		if _, err := fmt.Sscanf(label, "pos %d", &positions[c]); err != nil || positions[c] < 0 || positions[c] >= len(in.clean) {
			byPos = false
		}
	}
	if byPos {
		pos, clean, corrupted := tableRow{label: "pos"}, tableRow{label: "clean"}, tableRow{label: "corrupted"}
		differ := false
		for _, p := range positions {
			pos.cells = append(pos.cells, fmt.Sprint(p))
			clean.cells = append(clean.cells, in.v.label(in.clean[p]))
			s := "·"
			if in.corrupted[p] != in.clean[p] {
				s, differ = in.v.label(in.corrupted[p]), true
			}
			corrupted.cells = append(corrupted.cells, s)
		}
		t.headers = []tableRow{pos, clean}
		if differ {
			t.headers = append(t.headers, corrupted)
		}
	} else {
		t.headers = []tableRow{{label: "", cells: cols}}
	}
	for r, label := range g.Axes[0] {
		row := tableRow{label: label}
		for c := range cols {
			row.cells = append(row.cells, formatValue(g.Values[r*len(cols)+c], g.Normalized))
		}
		t.rows = append(t.rows, row)
	}
	t.write(w, screenWidth)
	if byPos && len(t.headers) == 3 {
		fmt.Fprintln(w, "(corrupted: · where the token is the clean one)")
	}
}

// formatValue shows a normalised value with two decimals ("0" when it
// rounds to zero, so the few that matter stand out) and a raw one with
// four significant digits.
func formatValue(v float64, normalized bool) string {
	if !normalized {
		return fmt.Sprintf("%.4g", v)
	}
	if math.Round(v*100) == 0 {
		return "0"
	}
	return fmt.Sprintf("%.2f", v)
}
