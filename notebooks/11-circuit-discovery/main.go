// Command 11-circuit-discovery is the notebook "Circuit discovery with
// ground truth": EAP, EAP-IG and ACDC on a model whose circuit is known by
// construction, then on the trained induction model, each measured by ROC
// AUC against the true edges and by faithfulness. Run it as
//
//	go run ./notebooks/11-circuit-discovery [-out DIR] [-quick] [-seed N]
package main

import (
	"context"
	_ "embed"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/discover"
	"github.com/mechinterp/workbench/figures"
	"github.com/mechinterp/workbench/notebooks/report"
)

//go:embed main.go
var source []byte

const name = "11-circuit-discovery"

func main() {
	if err := report.Main(context.Background(), name, os.Args[1:], run); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// method is one discovery method's result on one experiment.
type method struct {
	name, metric string
	scores       []float64
	auc          float64
	faith        *discover.Faithfulness
	exact        *bool
}

func run(ctx context.Context, o report.Options) error {
	r := report.New("Circuit discovery with ground truth", source, o)
	r.P("Patching asks what one component does. **Circuit discovery** asks which *edges* of the computational graph — " +
		"a head's output as another head's query, key or value input, an MLP's input, the logits — carry a behaviour, " +
		"and returns a subgraph. Three methods: **EAP** (edge attribution patching, Syed et al. 2023) scores every edge " +
		"from one gradient; **EAP-IG** (Hanna et al. 2024) integrates that gradient from the corrupted input to the clean " +
		"one; **ACDC** (Conmy et al. 2023) prunes edges one by one from the logits backwards, keeping an edge when " +
		"removing it costs more than τ. The MIB benchmark (Mueller et al. 2025) insists on two lessons: compare methods " +
		"on the same graph, and measure **faithfulness**, not just overlap. Here both, first where the answer is known exactly.")

	steps, batch := 20, 16
	if o.Quick {
		steps, batch = 5, 8
	}
	r.Section("A model with a known circuit")
	// region: compiled
	gt, err := discover.CompiledInduction(o.Seed, batch)
	if err != nil {
		return err
	}
	// endregion
	r.P("`discover.CompiledInduction` sets the weights of a two-layer attention-only model by hand. Its residual stream "+
		"has five subspaces: token, position, previous token, output and junk. **L0H0** is a positional previous-token "+
		"head that copies each token into the previous-token subspace; **L1H0** is an induction head whose query reads "+
		"the token and whose key reads the previous-token subspace (K-composition), copying the attended token into the "+
		"output subspace, which alone the unembedding reads. Four **distractor heads** have random W_Q, W_K, W_V of the "+
		"same norms but write only into the junk subspace, which nothing reads: their edges have exactly no effect. "+
		"Clean inputs are BOS and a block of 7 distinct tokens repeated (%d sequences); corrupted ones are random.", batch)
	r.Code("compiled")

	kl, err := discover.GroundTruthMetric(ctx, gt)
	if err != nil {
		return err
	}
	loss := discover.LossOn(gt.Clean, gt.Weights)
	type row struct {
		abl     discover.Ablation
		methods []method
		edges   int
	}
	var rows []row
	for _, abl := range []discover.Ablation{discover.Corrupted, discover.Zero} {
		// region: methods
		eLoss, err := discover.New(ctx, gt.Model, gt.Clean, gt.Corrupted, loss, abl)
		if err != nil {
			return err
		}
		eKL, err := discover.New(ctx, gt.Model, gt.Clean, gt.Corrupted, kl, abl)
		if err != nil {
			return err
		}
		eap, err := eLoss.EAP(ctx)
		if err != nil {
			return err
		}
		eapKL, err := eKL.EAP(ctx) // KL is minimal on the clean run: a zero gradient
		if err != nil {
			return err
		}
		ig, err := eLoss.EAPIG(ctx, steps)
		if err != nil {
			return err
		}
		acdc, err := eKL.ACDC(ctx, 1e-4, nil)
		if err != nil {
			return err
		}
		// endregion
		g := eLoss.Graph()
		truth, err := gt.Truth(g, abl)
		if err != nil {
			return err
		}
		exact := true
		for i := range truth {
			exact = exact && acdc.Keep[i] == truth[i]
		}
		rw := row{abl: abl, edges: len(g.Edges)}
		for _, m := range []method{
			{name: "EAP", metric: "loss", scores: eap},
			{name: "EAP", metric: "KL", scores: eapKL},
			{name: "EAP-IG", metric: "loss", scores: ig},
			{name: "ACDC", metric: "KL", scores: discover.BoolScores(acdc.Keep), exact: &exact},
		} {
			m.auc = discover.AUC(m.scores, truth)
			if m.faith, err = eLoss.Faithfulness(ctx, m.scores, 0.9, len(g.Edges)+1); err != nil {
				return err
			}
			rw.methods = append(rw.methods, m)
		}
		rows = append(rows, rw)
		if abl == discover.Corrupted {
			r.Result("compiled_true_edges", strings.Join(gt.True[abl], ", "))
		}
	}
	r.Code("methods")
	r.P("Under interchange (corrupted) ablation the true circuit is %s: the positional embedding is the same in both "+
		"batches, so its edges carry nothing a method could find. Under zero ablation the two positional edges into "+
		"L0H0's query and key join it.", strings.Join(gt.True[discover.Corrupted], ", "))
	var table [][]string
	for _, rw := range rows {
		for _, m := range rw.methods {
			ex := ""
			if m.exact != nil {
				ex = fmt.Sprint(*m.exact)
			}
			size := "—"
			if m.faith.SizeAt >= 0 {
				size = fmt.Sprint(m.faith.SizeAt)
			}
			table = append(table, []string{rw.abl.String(), m.name, m.metric, fmt.Sprintf("%.3f", m.auc), fmt.Sprintf("%.3f", m.faith.Area), size, ex})
			r.Result(fmt.Sprintf("compiled_%s_%s_%s_auc", rw.abl, strings.ToLower(m.name), strings.ToLower(m.metric)), m.auc)
		}
	}
	r.Table(fmt.Sprintf("Each method against the known circuit (%d edges in the graph). Faithfulness area: the area under "+
		"the fraction of behaviour recovered, (metric − empty)/(full − empty), against the fraction of edges kept, the edges "+
		"added in order of score; size: the fewest edges reaching 90%%.", rows[0].edges),
		[]string{"ablation", "method", "metric", "ROC AUC", "faithfulness area", "edges for 90%", "ACDC exact"}, table)

	corr, zero := rows[0].methods, rows[1].methods
	r.Claim("acdc_exact", *corr[3].exact && *zero[3].exact, fmt.Sprintf("corrupted %v, zero %v", *corr[3].exact, *zero[3].exact),
		"ACDC returns exactly the true edge set under both ablations.")
	r.Claim("ig_auc_one", corr[2].auc > 0.999 && zero[2].auc > 0.999, fmt.Sprintf("AUC %.3f and %.3f", corr[2].auc, zero[2].auc),
		"EAP-IG ranks every true edge above every other edge.")
	r.Claim("eap_kl_blind", corr[1].auc == 0.5 && zero[1].auc == 0.5, fmt.Sprintf("AUC %.3f and %.3f", corr[1].auc, zero[1].auc),
		"EAP on KL is blind: KL to the full model is at its minimum on the clean run, its gradient is zero there, and every "+
			"edge scores 0 (AUC 0.5). Use a metric with a gradient (the loss, a logit difference) for EAP, or EAP-IG.")

	// Faithfulness curves, corrupted ablation.
	var series []figures.Series
	for _, m := range corr {
		var x, y []float64
		for _, p := range m.faith.Curve {
			x, y = append(x, float64(p.Edges)), append(y, p.Fraction)
		}
		series = append(series, figures.Series{Name: m.name + " (" + m.metric + ")", X: x, Y: y})
	}
	fig, err := figures.Curves(figures.CurvesSpec{Title: "Faithfulness on the compiled model (corrupted ablation)",
		XLabel: "edges kept (highest scores first)", YLabel: "fraction of the behaviour recovered", Series: series, LogX: false,
		LegendBottom: true})
	if err != nil {
		return err
	}
	r.Figure(fig, "The metric recovered by the top edges of each method. The true circuit has 5 edges: a method that ranks "+
		"them first recovers everything by 5 edges; EAP on KL ranks edges arbitrarily.")

	r.Section("The trained induction model")
	m, _, err := report.DemoModel()
	if err != nil {
		return err
	}
	an, err := circuits.Analyze(ctx, m, circuits.AnalyzeOptions{Seed: o.Seed})
	if err != nil {
		return err
	}
	var truthNames, prevLabels, indLabels []string
	for _, ih := range an.InductionHeads {
		ind := discover.Node{Kind: discover.Head, Layer: ih.Layer, Head: ih.Head}.String()
		indLabels = append(indLabels, ind)
		for _, p := range an.PrevTokenHeads {
			if p.Layer < ih.Layer {
				truthNames = append(truthNames, discover.Node{Kind: discover.Head, Layer: p.Layer, Head: p.Head}.String()+"->"+ind+".k")
			}
		}
		truthNames = append(truthNames, "embed->"+ind+".v", ind+"->logits")
	}
	for _, p := range an.PrevTokenHeads {
		prev := discover.Node{Kind: discover.Head, Layer: p.Layer, Head: p.Head}.String()
		prevLabels = append(prevLabels, prev)
		truthNames = append(truthNames, "embed->"+prev+".v")
	}
	r.P("The dashboard's demo model (two attention-only layers of four heads, trained on repeated random tokens) spreads "+
		"its circuit over several heads. `circuits.Analyze` names the previous-token heads %s and the induction heads %s; "+
		"the reference circuit is every previous-token head into every induction head's key, the embedding into the "+
		"values of both kinds, and the induction heads into the logits (%d edges).",
		strings.Join(prevLabels, ", "), strings.Join(indLabels, ", "), len(truthNames))
	// region: trained
	task := data.Induction{Vocab: m.Cfg.DVocab, L: 20, MinRepeat: 10, Distinct: true}
	clean, corrupted := data.NewBatch(2*batch, task.SeqLen()), data.NewBatch(2*batch, task.SeqLen())
	task.FillFixed(clean, rand.New(rand.NewPCG(o.Seed, 1)))
	task.FillFixed(corrupted, rand.New(rand.NewPCG(o.Seed, 2)))
	weights := make([][]float32, clean.N)
	for b := range weights {
		_, _, weights[b] = clean.Seq(b)
	}
	lossT := discover.LossOn(clean.Rows(), weights)
	klT, err := discover.NewKL(ctx, m, clean.Rows(), weights)
	if err != nil {
		return err
	}
	eL, err := discover.New(ctx, m, clean.Rows(), corrupted.Rows(), lossT, discover.Corrupted)
	if err != nil {
		return err
	}
	eK, err := discover.New(ctx, m, clean.Rows(), corrupted.Rows(), klT, discover.Corrupted)
	if err != nil {
		return err
	}
	eapT, err := eL.EAP(ctx)
	if err != nil {
		return err
	}
	igT, err := eL.EAPIG(ctx, steps)
	if err != nil {
		return err
	}
	acdcT, err := eK.ACDC(ctx, 0.05, nil)
	if err != nil {
		return err
	}
	// endregion
	r.Code("trained")
	g := eL.Graph()
	truth := make([]bool, len(g.Edges))
	for _, n := range truthNames {
		i, err := g.Index(n)
		if err != nil {
			return err
		}
		truth[i] = true
	}
	kept := 0
	for _, k := range acdcT.Keep {
		if k {
			kept++
		}
	}
	var trows [][]string
	aucs := map[string]float64{}
	for _, mt := range []method{{name: "EAP", metric: "loss", scores: eapT}, {name: "EAP-IG", metric: "loss", scores: igT},
		{name: "ACDC", metric: "KL", scores: discover.BoolScores(acdcT.Keep)}} {
		mt.auc = discover.AUC(mt.scores, truth)
		if mt.faith, err = eL.Faithfulness(ctx, mt.scores, 0.9, 0); err != nil {
			return err
		}
		aucs[mt.name] = mt.auc
		size := "—"
		if mt.faith.SizeAt >= 0 {
			size = fmt.Sprint(mt.faith.SizeAt)
		}
		trows = append(trows, []string{mt.name, mt.metric, fmt.Sprintf("%.3f", mt.auc), fmt.Sprintf("%.3f", mt.faith.Area), size})
		r.Result("trained_"+strings.ToLower(mt.name)+"_auc", mt.auc)
	}
	r.Table(fmt.Sprintf("On the demo model (%d edges; ACDC at τ = 0.05 on KL kept %d in %d forward passes). AUC is against "+
		"the reference circuit above.", len(g.Edges), kept, acdcT.Evaluations),
		[]string{"method", "metric", "ROC AUC", "faithfulness area", "edges for 90%"}, trows)
	r.Claim("trained_found", aucs["EAP"] > 0.7 && aucs["EAP-IG"] > 0.7 && aucs["ACDC"] > 0.7,
		fmt.Sprintf("AUC: EAP %.3f, EAP-IG %.3f, ACDC %.3f", aucs["EAP"], aucs["EAP-IG"], aucs["ACDC"]),
		"Every method finds the trained induction circuit well above chance (AUC > 0.7), in the range ACDC's authors "+
			"report for hand-found circuits in GPT-2 small (0.87–0.89).")
	r.P("A real circuit is not the tidy ground truth: the trained model's heads are redundant (several previous-token " +
		"heads feed the same keys), so removing one edge at a time, as ACDC does, can prune one of two redundant edges, and " +
		"first-order scores miss edges whose effect only shows when their partners are gone.")

	r.Takeaways(
		report.Takeaway{Text: "On a circuit known by construction, ACDC recovers it exactly and EAP-IG ranks it perfectly.", Claims: []string{"acdc_exact", "ig_auc_one"}},
		report.Takeaway{Text: "EAP needs a metric with a gradient at the clean run: with KL every score is zero.", Claims: []string{"eap_kl_blind"}},
		report.Takeaway{Text: "Judge a method by faithfulness on the same graph, not by overlap alone: the table's area and size columns."},
	)
	return r.Write()
}
