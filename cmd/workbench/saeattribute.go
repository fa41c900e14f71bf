package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/mechinterp/workbench/sae"
)

func runSAEAttribute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sae attribute", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	var tf textFlags
	tf.register(fs)
	var in tokenInput
	in.register(fs, "tokens", "JSON `FILE` holding one token sequence (the first is used)", "text")
	dir := fs.String("sae", "", "the dictionary `DIR` whose features are attributed (required)")
	down := fs.String("downstream", "", "a later transcoder's `DIR`: attribute its active features to --sae's (a transcoder) instead of a logit")
	pos := fs.Int("pos", -1, "`POSITION` of the logit (or of the features, with --downstream); default the last")
	token := fs.Int("token", -1, "the token `ID` whose logit is attributed")
	answer := fs.String("answer", "", "the token whose logit is attributed, as `TEXT` of one token (instead of --token)")
	top := fs.Int("top", 20, "contributions listed")
	asJSON := fs.Bool("json", false, `print the attribution: {"pos", "token", "logit", "features": [{"feature", "act", "attribution"}], "bias", "error", "total"}, or with --downstream {"pos", "edges": [{"source", "target", "source_act", "attribution"}]}`)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: workbench sae attribute --model M --sae DIR (--tokens F | --text S) (--token ID | --answer TEXT) [--pos P] [--json]")
		fmt.Fprintln(fs.Output(), "       workbench sae attribute --model M --sae UP --downstream DOWN (--tokens F | --text S) [--pos P] [--json]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Splits a logit among the dictionary's active features through the decoder: activation ×")
		fmt.Fprintln(fs.Output(), "(decoder row · the logit's gradient at the hook), with the bias and the reconstruction error's")
		fmt.Fprintln(fs.Output(), "terms. With --downstream, the direct feature-to-feature attributions between two transcoders")
		fmt.Fprintln(fs.Output(), "along the residual stream (normalisation linearised at the position's scale).")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sae attribute: unexpected argument %q", fs.Arg(0))
	}
	if *dir == "" || *top < 1 {
		return fmt.Errorf("sae attribute: --sae DIR is required and --top must be ≥ 1")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *down == "" && set["token"] == set["answer"] {
		return fmt.Errorf("sae attribute: give --token ID or --answer TEXT (or --downstream DIR)")
	}
	if *down != "" && (set["token"] || set["answer"]) {
		return fmt.Errorf("sae attribute: --downstream attributes features, not a logit: drop --token and --answer")
	}
	up, err := sae.Load(*dir)
	if err != nil {
		return err
	}
	m, err := mf.load()
	if err != nil {
		return fmt.Errorf("sae attribute: %w", err)
	}
	v, err := tf.load("sae attribute", mf.model, m, stderr)
	if err != nil {
		return err
	}
	src, text, err := v.open(fs, &in)
	if err != nil {
		return err
	}
	defer src.Close()
	var seq []int
	if text != nil {
		seq = text.ids
	} else {
		b, err := src.batch(nil, 1)
		if err != nil || len(b) == 0 {
			return fmt.Errorf("sae attribute: --tokens holds no sequence: %v", err)
		}
		seq = b[0]
	}
	p := *pos
	if !set["pos"] {
		p = len(seq) - 1
	}
	if *down != "" {
		dn, err := sae.Load(*down)
		if err != nil {
			return err
		}
		edges, err := sae.TranscoderEdges(ctx, m, up, dn, seq, p)
		if err != nil {
			return err
		}
		edges = edges[:min(*top, len(edges))]
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{"pos": p, "edges": edges})
		}
		fmt.Fprintf(stdout, "feature-to-feature attributions at position %d, %s → %s\n", p, up.Cfg.HookNameOut, dn.Cfg.HookName)
		for _, e := range edges {
			fmt.Fprintf(stdout, "  %5d → %-5d  %+.4f  (source activation %.3f)\n", e.Source, e.Target, e.Attribution, e.SourceAct)
		}
		return nil
	}
	tok := *token
	if set["answer"] {
		if tok, err = v.oneToken("--answer", *answer); err != nil {
			return err
		}
	}
	at, err := up.AttributeLogit(ctx, m, seq, p, tok)
	if err != nil {
		return err
	}
	at.Features = at.Features[:min(*top, len(at.Features))]
	if *asJSON {
		return json.NewEncoder(stdout).Encode(at)
	}
	fmt.Fprintf(stdout, "logit of %s at position %d: %.4f; at %s: features + bias %.4f + error %.4f = %.4f\n",
		v.label(tok), p, at.Logit, up.Cfg.HookName, at.Bias, at.Error, at.Total)
	for _, c := range at.Features {
		fmt.Fprintf(stdout, "  feature %-5d act %8.3f  attribution %+.4f\n", c.Feature, c.Act, c.Attribution)
	}
	return nil
}
