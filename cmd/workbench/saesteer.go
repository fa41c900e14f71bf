package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/mechinterp/workbench/sae"
)

// maxDirectionFile bounds a --direction file.
const maxDirectionFile = 64 << 20

// steerPrompt is one prompt's steering result as `sae steer --json`
// prints it.
type steerPrompt struct {
	Prompt []int `json:"prompt"`
	*sae.SteerResult
	CleanLoss   float64  `json:"clean_loss"`   // the model's loss on the prompt
	SteeredLoss float64  `json:"steered_loss"` // with steering
	CleanText   string   `json:"clean_text,omitempty"`
	SteeredText string   `json:"steered_text,omitempty"`
	Pieces      []string `json:"pieces,omitempty"`
}

func runSAESteer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sae steer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	var tf textFlags
	tf.register(fs)
	var in tokenInput
	in.register(fs, "tokens", "JSON `FILE` of prompts, token sequences (each steered on its own)", "text")
	dir := fs.String("sae", "", "the dictionary `DIR` whose --feature steers")
	feature := fs.Int("feature", -1, "steer along this feature's decoder direction (with --sae)")
	dirFile := fs.String("direction", "", "steer along the direction in JSON `FILE` (an array of numbers) at --hook, instead of a feature")
	hook := fs.String("hook", "", "hook `POINT` for --direction (a feature steers at its dictionary's hook)")
	alpha := fs.Float64("alpha", 0, "the multiple `α` of the direction added at every position (required)")
	top := fs.Int("top", 10, "predictions and moved logits listed")
	maxNew := fs.Int("max-new", 10, "greedy tokens generated, without and with steering")
	asJSON := fs.Bool("json", false, `print {"hook", "alpha", "prompts": [{"clean", "steered", "raised", "lowered", "kl", "clean_new", "steered_new", "clean_loss", "steered_loss"}]}`)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: workbench sae steer --model M (--sae DIR --feature J | --direction FILE --hook POINT) --alpha A")
		fmt.Fprintln(fs.Output(), "         (--tokens F | --text S | --text-file F) [--top N] [--max-new N] [--json]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Adds α × a direction to the activation at a hook point at every position and reports what")
		fmt.Fprintln(fs.Output(), "changes: the next-token predictions after each prompt, the logits moved most, the KL")
		fmt.Fprintln(fs.Output(), "divergence, the prompt's loss, and greedy continuations without and with steering.")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sae steer: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["alpha"] {
		return fmt.Errorf("sae steer: --alpha is required")
	}
	byFeature, byDir := set["sae"] || set["feature"], set["direction"] || set["hook"]
	if byFeature == byDir {
		return fmt.Errorf("sae steer: give --sae DIR --feature J, or --direction FILE --hook POINT")
	}
	m, err := mf.load()
	if err != nil {
		return fmt.Errorf("sae steer: %w", err)
	}
	var st sae.Steering
	if byFeature {
		if *dir == "" || !set["feature"] {
			return fmt.Errorf("sae steer: --sae DIR and --feature J go together")
		}
		s, err := sae.Load(*dir)
		if err != nil {
			return err
		}
		if st, err = s.FeatureSteering(*feature, *alpha); err != nil {
			return err
		}
	} else {
		if *dirFile == "" || *hook == "" {
			return fmt.Errorf("sae steer: --direction FILE and --hook POINT go together")
		}
		b, err := readBounded(*dirFile, maxDirectionFile)
		if err != nil {
			return fmt.Errorf("sae steer: --direction: %w", err)
		}
		dec := json.NewDecoder(strings.NewReader(b))
		err = dec.Decode(&st.Direction)
		if err == nil && dec.More() {
			err = fmt.Errorf("data after the array")
		}
		if err != nil {
			return fmt.Errorf("sae steer: --direction %s: want a JSON array of numbers: %w", *dirFile, err)
		}
		st.Hook, st.Alpha = *hook, *alpha
	}
	v, err := tf.load("sae steer", mf.model, m, stderr)
	if err != nil {
		return err
	}
	src, text, err := v.open(fs, &in)
	if err != nil {
		return err
	}
	defer src.Close()
	var prompts [][]int
	if text != nil {
		prompts = [][]int{text.ids}
	} else {
		r := src.(*tokenReader)
		r.ragged = true
		if prompts, err = r.all(maxHeldTokens); err != nil {
			return err
		}
	}
	if len(prompts) > 256 {
		return fmt.Errorf("sae steer: %d prompts: at most 256", len(prompts))
	}
	var results []steerPrompt
	for _, p := range prompts {
		res, err := sae.Steer(ctx, m, p, st, sae.SteerOptions{TopK: *top, MaxNew: *maxNew})
		if err != nil {
			return err
		}
		sp := steerPrompt{Prompt: p, SteerResult: res}
		if len(p) > 1 {
			if sp.CleanLoss, sp.SteeredLoss, err = sae.SteerLoss(ctx, m, [][]int{p}, st); err != nil {
				return err
			}
		}
		if v.known() {
			sp.Pieces = v.pieces(p)
			sp.CleanText = strings.Join(v.pieces(res.CleanNew), "")
			sp.SteeredText = strings.Join(v.pieces(res.SteeredNew), "")
			for _, l := range [][]sae.TokenEffect{res.Raised, res.Lowered} {
				for i := range l {
					l[i].Text = v.piece(l[i].Token)
				}
			}
		}
		results = append(results, sp)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"hook": st.Hook, "alpha": st.Alpha, "prompts": results})
	}
	fmt.Fprintf(stdout, "steering %s by %g × a direction of norm %.3g\n", st.Hook, st.Alpha, norm32(st.Direction))
	for i, r := range results {
		fmt.Fprintf(stdout, "prompt %d (%d tokens): loss %.4f → %.4f, next-token KL %.4f\n", i, len(r.Prompt), r.CleanLoss, r.SteeredLoss, r.KL)
		fmt.Fprintf(stdout, "  top next token: %s (%.3f) → %s (%.3f)\n", v.label(r.Clean[0].Token), r.Clean[0].Prob, v.label(r.Steered[0].Token), r.Steered[0].Prob)
		var up []string
		for _, e := range r.Raised[:min(5, len(r.Raised))] {
			up = append(up, fmt.Sprintf("%s %+.3g", v.label(e.Token), e.Effect))
		}
		fmt.Fprintf(stdout, "  logits raised most: %s\n", strings.Join(up, ", "))
		fmt.Fprintf(stdout, "  continuation: %s\n     steered:   %s\n", v.join(r.CleanNew), v.join(r.SteeredNew))
	}
	return nil
}

// norm32 returns the Euclidean norm of v.
func norm32(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}
