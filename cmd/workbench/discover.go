package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/discover"
	"github.com/mechinterp/workbench/patching"
)

// maxDiscoverTokens bounds the tokens discover holds: every sender's output
// on both batches is kept, (senders × tokens × d_model) floats twice.
const maxDiscoverTokens = 1 << 14

func runDiscover(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("discover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	var tf textFlags
	tf.register(fs)
	var cleanIn, corruptedIn tokenInput
	cleanIn.register(fs, "clean", "JSON `FILE` holding the clean token sequences ([[1, 2, 3], ...])", "clean-text")
	corruptedIn.register(fs, "corrupted", "JSON `FILE` holding the corrupted token sequences, the same shape as --clean", "corrupted-text")
	metricName := fs.String("metric", "", "`METRIC`: logit-diff (answer − wrong logit at --pos), loss (next-token cross-entropy of the clean sequences) or kl (to the full model's outputs)")
	answer := fs.String("answer", "", "answer token for logit-diff: `IDS` (one for every sequence, or one per sequence, comma-separated), or with text input the answer as text, one token")
	wrong := fs.String("wrong", "", "wrong token for logit-diff, as --answer")
	pos := fs.Int("pos", patching.Last, "`POSITION` logit-diff reads; negative counts from the end")
	method := fs.String("method", "", "`METHOD`: eap, eap-ig or acdc")
	steps := fs.Int("steps", 20, "EAP-IG's interpolation steps `m`")
	tau := fs.Float64("tau", 0.01, "ACDC's threshold `τ`: an edge goes when removing it raises the cost by less (the cost is the metric for kl, else |metric − full model's|)")
	ablation := fs.String("ablation", "corrupted", "what an edge outside the circuit carries: corrupted (the sender's output on --corrupted), mean (its batch mean) or zero")
	top := fs.Int("top", 20, "edges listed in the text output (--json lists every edge)")
	groundTruth := fs.Bool("ground-truth", false, "run the three methods on the compiled induction model, whose circuit is known by construction, and report each method's ROC AUC, faithfulness area and edges")
	asJSON := fs.Bool("json", false, `print {"edges": [{"from", "to", "score"}], "faithfulness": [[edges_kept, metric_fraction], ...]}`)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: workbench discover --model M --clean FILE --corrupted FILE --metric logit-diff|loss|kl")
		fmt.Fprintln(w, "         [--answer A --wrong W] --method eap|eap-ig|acdc [--steps m] [--tau τ] [--json]")
		fmt.Fprintln(w, "       workbench discover --ground-truth [--json]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Circuit discovery on the model's computational graph: nodes are embed, pos_embed, heads")
		fmt.Fprintln(w, "L{l}H{h}, MLPs MLP{l} and logits; edges run from each node to every later head's q, k and")
		fmt.Fprintln(w, "v inputs (L{l}H{h}.q|.k|.v), MLP inputs and the logits. eap scores every edge with one")
		fmt.Fprintln(w, "forward and one backward pass; eap-ig averages the gradient over --steps runs; acdc prunes")
		fmt.Fprintln(w, "edges from the logits backwards while the cost rises by less than --tau. The faithfulness")
		fmt.Fprintln(w, "curve is the metric recovered, (metric − empty)/(full − empty), by the top edges.")
		fmt.Fprintln(w, "eap with --metric kl scores every edge 0: KL is at its minimum on the clean run.")
		fmt.Fprintln(w)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("discover: unexpected argument %q", fs.Arg(0))
	}
	abl, err := discover.ParseAblation(*ablation)
	if err != nil {
		return err
	}
	if *steps < 1 {
		return fmt.Errorf("discover: --steps must be at least 1, got %d", *steps)
	}
	if math.IsNaN(*tau) || *tau < 0 {
		return fmt.Errorf("discover: --tau must be ≥ 0, got %g", *tau)
	}
	if *groundTruth {
		for _, name := range []string{"model", "config", "clean", "corrupted", "clean-text", "corrupted-text", "clean-text-file", "corrupted-text-file", "metric", "method", "answer", "wrong"} {
			if f := fs.Lookup(name); f.Value.String() != f.DefValue {
				return fmt.Errorf("discover: --ground-truth uses its own model, batches and metric: --%s does not apply", name)
			}
		}
		return discoverGroundTruth(ctx, abl, *steps, stdout, *asJSON)
	}
	if *method != "eap" && *method != "eap-ig" && *method != "acdc" {
		return fmt.Errorf("discover: --method is %q: want eap, eap-ig or acdc", *method)
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	v, err := tf.load("discover", mf.model, m, stderr)
	if err != nil {
		return err
	}
	clean, cleanText, err := readAllInput(v, fs, &cleanIn)
	if err != nil {
		return err
	}
	corrupted, corruptedText, err := readAllInput(v, fs, &corruptedIn)
	if err != nil {
		return err
	}
	if (cleanText == nil) != (corruptedText == nil) {
		return fmt.Errorf("discover: give the clean and corrupted runs alike: both as text or both as token files")
	}
	if cleanText != nil {
		if err := sameLength(v, cleanIn, corruptedIn, cleanText, corruptedText); err != nil {
			return err
		}
	}
	var metric patching.Metric
	switch *metricName {
	case "logit-diff":
		parse := parseIDs
		if cleanText != nil {
			parse = v.optionalToken
		}
		ans, err := parse("--answer", *answer)
		if err != nil {
			return err
		}
		wr, err := parse("--wrong", *wrong)
		if err != nil {
			return err
		}
		if ans == nil || wr == nil {
			return fmt.Errorf("discover: --metric logit-diff needs --answer and --wrong")
		}
		metric = patching.LogitDiff{Answer: ans, Wrong: wr, Pos: *pos}
	case "loss", "kl":
		if *answer != "" || *wrong != "" {
			return fmt.Errorf("discover: --answer and --wrong apply to --metric logit-diff only")
		}
		if *metricName == "loss" {
			metric = discover.LossOn(clean, nil)
		} else if metric, err = discover.NewKL(ctx, m, clean, nil); err != nil {
			return err
		}
	default:
		return fmt.Errorf("discover: --metric is %q: want logit-diff, loss or kl", *metricName)
	}
	e, err := discover.New(ctx, m, clean, corrupted, metric, abl)
	if err != nil {
		return err
	}
	scores, note, err := discoverScores(ctx, e, *method, *steps, *tau, stderr)
	if err != nil {
		return err
	}
	f, err := e.Faithfulness(ctx, scores, 0.9, 0)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeDiscoverJSON(stdout, e.Graph(), scores, f)
	}
	fmt.Fprintf(stdout, "%s on %d edges (%s ablation, metric %s: full model %.4g, every edge ablated %.4g)%s\n",
		*method, len(scores), abl, metric, e.Full(), e.Empty(), note)
	writeEdgeTable(stdout, e.Graph(), scores, *top)
	fmt.Fprintf(stdout, "faithfulness: area %.3f; %s\n", f.Area, sizeAt(f))
	return nil
}

// discoverScores runs the method and returns its edge scores: EAP's
// estimates, or for ACDC the cost each edge's removal added (0 for pruned
// edges, whose score is kept for the faithfulness ranking only as order).
func discoverScores(ctx context.Context, e *discover.Experiment, method string, steps int, tau float64, stderr io.Writer) ([]float64, string, error) {
	switch method {
	case "eap":
		s, err := e.EAP(ctx)
		return s, "", err
	case "eap-ig":
		s, err := e.EAPIG(ctx, steps)
		return s, fmt.Sprintf("; %d steps", steps), err
	}
	res, err := e.ACDC(ctx, tau, func(done, total int) {
		if done == total || done%16 == 0 {
			fmt.Fprintf(stderr, "acdc: %d of %d receivers\n", done, total)
		}
	})
	if err != nil {
		return nil, "", err
	}
	kept := 0
	scores := make([]float64, len(res.Keep))
	for i, k := range res.Keep {
		if k {
			kept++
			scores[i] = math.Max(res.Delta[i], math.SmallestNonzeroFloat64) // kept edges first
		}
	}
	return scores, fmt.Sprintf("; τ = %g kept %d edges in %d evaluations", tau, kept, res.Evaluations), nil
}

type edgeJSON struct {
	From  string  `json:"from"`
	To    string  `json:"to"`
	Score float64 `json:"score"`
}

// edgesJSON lists the edges by decreasing |score|.
func edgesJSON(g *discover.Graph, scores []float64, keep func(i int) bool) []edgeJSON {
	out := []edgeJSON{}
	for _, i := range discover.Ranked(scores) {
		if keep != nil && !keep(i) {
			continue
		}
		ed := g.Edges[i]
		out = append(out, edgeJSON{From: ed.From.String(), To: g.ReceiverName(ed.To), Score: scores[i]})
	}
	return out
}

func writeDiscoverJSON(w io.Writer, g *discover.Graph, scores []float64, f *discover.Faithfulness) error {
	curve := make([][2]float64, len(f.Curve))
	for i, p := range f.Curve {
		curve[i] = [2]float64{float64(p.Edges), p.Fraction}
	}
	return json.NewEncoder(w).Encode(map[string]any{"edges": edgesJSON(g, scores, nil), "faithfulness": curve})
}

func writeEdgeTable(w io.Writer, g *discover.Graph, scores []float64, top int) {
	for n, i := range discover.Ranked(scores) {
		if n >= top {
			fmt.Fprintf(w, "  … %d more (--top, --json)\n", len(scores)-top)
			break
		}
		fmt.Fprintf(w, "  %-28s %10.4g\n", g.EdgeName(i), scores[i])
	}
}

func sizeAt(f *discover.Faithfulness) string {
	if f.SizeAt < 0 {
		return fmt.Sprintf("no evaluated circuit reaches %.0f%% of the full model's behaviour", 100*f.Target)
	}
	return fmt.Sprintf("%d edges reach %.0f%% of the full model's behaviour", f.SizeAt, 100*f.Target)
}

// discoverGroundTruth runs EAP (on the loss: KL's gradient vanishes on the
// clean run), EAP-IG and ACDC (on KL) on the compiled induction model and
// reports each against the true circuit.
func discoverGroundTruth(ctx context.Context, abl discover.Ablation, steps int, stdout io.Writer, asJSON bool) error {
	gt, err := discover.CompiledInduction(1, 16)
	if err != nil {
		return err
	}
	kl, err := discover.GroundTruthMetric(ctx, gt)
	if err != nil {
		return err
	}
	loss := discover.LossOn(gt.Clean, gt.Weights)
	eLoss, err := discover.New(ctx, gt.Model, gt.Clean, gt.Corrupted, loss, abl)
	if err != nil {
		return err
	}
	eKL, err := discover.New(ctx, gt.Model, gt.Clean, gt.Corrupted, kl, abl)
	if err != nil {
		return err
	}
	g := eLoss.Graph()
	truth, err := gt.Truth(g, abl)
	if err != nil {
		return err
	}
	type result struct {
		AUC              float64    `json:"auc"`
		FaithfulnessArea float64    `json:"faithfulness_area"`
		Edges            []edgeJSON `json:"edges"`
		Exact            *bool      `json:"exact,omitempty"`
		Metric           string     `json:"metric"`
	}
	out := map[string]result{}
	order := []string{"eap", "eap-ig", "acdc"}
	for _, name := range order {
		var scores []float64
		var keep func(int) bool
		var exact *bool
		e := eLoss
		switch name {
		case "eap":
			scores, err = eLoss.EAP(ctx)
		case "eap-ig":
			scores, err = eLoss.EAPIG(ctx, steps)
		case "acdc":
			e = eKL
			var res *discover.ACDCResult
			if res, err = eKL.ACDC(ctx, 1e-4, nil); err == nil {
				scores = discover.BoolScores(res.Keep)
				keep = func(i int) bool { return res.Keep[i] }
				same := true
				for i := range truth {
					same = same && res.Keep[i] == truth[i]
				}
				exact = &same
			}
		}
		if err != nil {
			return err
		}
		f, err := e.Faithfulness(ctx, scores, 0.9, len(g.Edges)+1)
		if err != nil {
			return err
		}
		edges := edgesJSON(g, scores, keep)
		if keep == nil {
			edges = edges[:min(len(edges), 2*len(gt.True[abl]))]
		}
		out[name] = result{AUC: discover.AUC(scores, truth), FaithfulnessArea: f.Area, Edges: edges, Exact: exact, Metric: e.Metric()}
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(out)
	}
	fmt.Fprintf(stdout, "compiled induction model: %d edges, true circuit (%s ablation): %s\n", len(g.Edges), abl, strings.Join(gt.True[abl], ", "))
	for _, name := range order {
		r := out[name]
		fmt.Fprintf(stdout, "  %-7s metric %-5s ROC AUC %.3f  faithfulness area %.3f", name, r.Metric, r.AUC, r.FaithfulnessArea)
		if r.Exact != nil {
			fmt.Fprintf(stdout, "  exact: %v", *r.Exact)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// readAllInput reads every sequence of a token input (a token file, or a
// text's one sequence), at most maxDiscoverTokens tokens in all.
func readAllInput(v *vocab, fs *flag.FlagSet, in *tokenInput) ([][]int, *textTokens, error) {
	src, text, err := v.open(fs, in)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	var all [][]int
	total := 0
	for {
		b, err := src.batch(nil, 64)
		for _, s := range b {
			if total += len(s); total > maxDiscoverTokens {
				return nil, nil, fmt.Errorf("discover: --%s holds more than %d tokens, more than discover holds at once", in.fileFlag, maxDiscoverTokens)
			}
			all = append(all, slices.Clone(s))
		}
		if errors.Is(err, io.EOF) {
			return all, text, nil
		}
		if err != nil {
			return nil, nil, err
		}
	}
}
