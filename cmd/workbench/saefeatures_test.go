package main

import (
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// saeOnTextModel trains a small dictionary on a text model's residual
// stream from a text file and returns the model folder, the text file and
// the dictionary's folder.
func saeOnTextModel(t *testing.T) (model, text, dir string) {
	t.Helper()
	model = textModelDir(t)
	text = filepath.Join(t.TempDir(), "text.txt")
	writeFile(t, text, []byte(strings.Repeat("A Mary B John went to the shop. Then John and Mary said hello. ", 12)))
	dir = filepath.Join(t.TempDir(), "sae")
	if _, _, err := runCLI(t, "sae", "train", "--model", model, "--text-file", text, "--hook", "blocks.1.hook_resid_post",
		"--out", dir, "--steps", "60", "--batch", "64", "--d-sae", "32", "--k", "4"); err != nil {
		t.Fatal(err)
	}
	return model, text, dir
}

// TestSAEFeaturesFiles runs `sae features` on a text model: features.json
// holds a dashboard per requested feature with text pieces, logit effects
// labelled as text, and the PNG figures it names decode.
func TestSAEFeaturesFiles(t *testing.T) {
	model, text, dir := saeOnTextModel(t)
	out := filepath.Join(t.TempDir(), "dash")
	stdout, _, err := runCLI(t, "sae", "features", "--sae", dir, "--model", model, "--text-file", text, "--out", out,
		"--top", "3", "--contexts", "2", "--window", "3", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Dashboards string `json:"dashboards"`
		Features   []int  `json:"features"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || len(got.Features) != 3 {
		t.Fatalf("%v: %s", err, stdout)
	}
	b, err := os.ReadFile(got.Dashboards)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Summaries []struct {
			ID      int     `json:"id"`
			Density float64 `json:"density"`
		} `json:"summaries"`
		Features []struct {
			ID       int `json:"id"`
			Contexts []struct {
				Tokens []int     `json:"tokens"`
				Acts   []float64 `json:"acts"`
				Text   []string  `json:"text"`
			} `json:"contexts"`
			Promoted []struct {
				Text string `json:"text"`
			} `json:"promoted"`
		} `json:"features"`
		Figures []struct {
			Histogram, Logits string
		} `json:"figures"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Summaries) != 32 || len(doc.Features) != 3 || len(doc.Figures) != 3 {
		t.Fatalf("%d summaries, %d dashboards, %d figures", len(doc.Summaries), len(doc.Features), len(doc.Figures))
	}
	for i, f := range doc.Features {
		if f.ID != got.Features[i] || len(f.Contexts) == 0 || len(f.Promoted) == 0 || f.Promoted[0].Text == "" {
			t.Errorf("feature %d: %d contexts, promoted %v", f.ID, len(f.Contexts), f.Promoted)
			continue
		}
		c := f.Contexts[0]
		if len(c.Text) != len(c.Tokens) || len(c.Acts) != len(c.Tokens) || strings.Join(c.Text, "") == "" {
			t.Errorf("feature %d context: %d tokens, %d acts, text %q", f.ID, len(c.Tokens), len(c.Acts), c.Text)
		}
		// The densest first.
		if i > 0 && doc.Summaries[f.ID].Density > doc.Summaries[doc.Features[i-1].ID].Density {
			t.Errorf("feature %d is denser than the one before it", f.ID)
		}
	}
	for _, fig := range doc.Figures {
		for _, name := range []string{fig.Histogram, fig.Logits} {
			fh, err := os.Open(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := png.DecodeConfig(fh); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			fh.Close()
		}
	}
	_, _, err = runCLI(t, "sae", "features", "--sae", dir, "--model", model, "--text-file", text, "--out", out, "--features", "32")
	if err == nil || !strings.Contains(err.Error(), "feature 32") {
		t.Errorf("feature 32 of 32: error %v", err)
	}
	_, _, err = runCLI(t, "sae", "features", "--sae", dir, "--model", model, "--text-file", text, "--out", out, "--features", "x")
	if err == nil || !strings.Contains(err.Error(), "--features") {
		t.Errorf("--features x: error %v", err)
	}
}

// TestSAESteerCLI steers a text model along a feature and along a
// direction file: the JSON reports predictions, moved logits and
// continuations; α = 0 moves nothing; bad input is refused.
func TestSAESteerCLI(t *testing.T) {
	model, _, dir := saeOnTextModel(t)
	stdout, _, err := runCLI(t, "sae", "steer", "--model", model, "--sae", dir, "--feature", "3", "--alpha", "8",
		"--text", "A Mary B John", "--max-new", "3", "--json")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		Hook    string `json:"hook"`
		Prompts []struct {
			Clean      []struct{ Token int }      `json:"clean"`
			Raised     []struct{ Effect float64 } `json:"raised"`
			KL         float64                    `json:"kl"`
			SteeredNew []int                      `json:"steered_new"`
			CleanLoss  float64                    `json:"clean_loss"`
			Pieces     []string                   `json:"pieces"`
		} `json:"prompts"`
	}
	var got result
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || len(got.Prompts) != 1 {
		t.Fatalf("%v: %s", err, stdout)
	}
	p := got.Prompts[0]
	if got.Hook != "blocks.1.hook_resid_post" || len(p.Clean) != 10 || p.KL <= 0 || len(p.SteeredNew) != 3 || p.CleanLoss <= 0 || len(p.Pieces) == 0 {
		t.Errorf("steer --json: %s", stdout)
	}
	vec := make([]float64, 16)
	vec[2] = 1
	dirFile := filepath.Join(t.TempDir(), "dir.json")
	writeFile(t, dirFile, mustJSON(t, vec))
	stdout, _, err = runCLI(t, "sae", "steer", "--model", model, "--direction", dirFile, "--hook", "blocks.0.hook_resid_mid", "--alpha", "0",
		"--text", "A Mary", "--json")
	if err != nil {
		t.Fatal(err)
	}
	got = result{}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || got.Prompts[0].KL != 0 || got.Prompts[0].Raised[0].Effect != 0 {
		t.Errorf("α = 0 moved something: %v %s", err, stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--sae", dir, "--feature", "1", "--text", "A"}, "--alpha"},
		{[]string{"--sae", dir, "--feature", "1", "--direction", dirFile, "--alpha", "1", "--text", "A"}, "give --sae DIR --feature J, or"},
		{[]string{"--sae", dir, "--feature", "99", "--alpha", "1", "--text", "A"}, "feature 99"},
		{[]string{"--direction", dirFile, "--hook", "blocks.0.attn.hook_pattern", "--alpha", "1", "--text", "A"}, "not a [batch, pos, width]"},
		{[]string{"--direction", dirFile, "--hook", "blocks.0.mlp.hook_post", "--alpha", "1", "--text", "A"}, "width is 32"},
	} {
		_, _, err := runCLI(t, append([]string{"sae", "steer", "--model", model}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestSAECurveCLI sweeps k on a text model: the JSON is one point per k
// with the contract's fields, L0 at most k, and the files are written.
func TestSAECurveCLI(t *testing.T) {
	model := textModelDir(t)
	text := filepath.Join(t.TempDir(), "text.txt")
	writeFile(t, text, []byte(strings.Repeat("A Mary B John went to the shop. Then John and Mary said hello. ", 12)))
	out := filepath.Join(t.TempDir(), "curve")
	stdout, _, err := runCLI(t, "sae", "curve", "--model", model, "--text-file", text, "--hook", "blocks.1.hook_resid_post",
		"--ks", "2,8", "--d-sae", "32", "--steps", "40", "--batch", "64", "--out", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var pts []map[string]float64
	if err := json.Unmarshal([]byte(stdout), &pts); err != nil || len(pts) != 2 {
		t.Fatalf("%v: %s", err, stdout)
	}
	for i, k := range []float64{2, 8} {
		for _, f := range []string{"k", "l0", "fvu", "ce_loss_recovered"} {
			if _, ok := pts[i][f]; !ok {
				t.Errorf("point %d has no %q: %v", i, f, pts[i])
			}
		}
		if pts[i]["k"] != k || pts[i]["l0"] > k {
			t.Errorf("point %d: %v", i, pts[i])
		}
	}
	for _, f := range []string{"curve.json", "curve.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	for _, tc := range [][]string{{"--ks", "x"}, {"--ks", "2", "--l1s", "1"}, {"--architecture", "relu", "--ks", "2"}} {
		args := append([]string{"sae", "curve", "--model", model, "--text-file", text, "--hook", "blocks.1.hook_resid_post"}, tc...)
		if _, _, err := runCLI(t, args...); err == nil {
			t.Errorf("%v accepted", tc)
		}
	}
}

// TestSAEToyJumpReLU trains the toy with a JumpReLU dictionary from the
// command line: its thresholds train, so the features are recovered.
func TestSAEToyJumpReLU(t *testing.T) {
	out, _, err := runCLI(t, "sae", "toy", "--architecture", "jumprelu", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		MMCS float64 `json:"mmcs"`
		L0   float64 `json:"l0"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.MMCS < 0.9 || got.L0 > 6 {
		t.Errorf("jumprelu toy: %v %s", err, out)
	}
}

// TestSAETrainResume trains 60 steps at once, and 24 then --resume to 60
// (checkpoints every 10 steps): the saved weights are byte-identical. A
// resume with another flag is refused, naming it.
func TestSAETrainResume(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	if _, _, err := runCLI(t, "train", "induction", "--out", run, "--steps", "30", "--d-model", "16", "--n-heads", "2"); err != nil {
		t.Fatal(err)
	}
	args := func(out, steps string, extra ...string) []string {
		return append([]string{"sae", "train", "--model", run, "--hook", "blocks.1.hook_resid_post", "--out", out, "--steps", steps,
			"--batch", "64", "--d-sae", "32", "--k", "3", "--aux-k", "4", "--checkpoint-every", "10"}, extra...)
	}
	whole, parts := filepath.Join(dir, "whole"), filepath.Join(dir, "parts")
	for _, a := range [][]string{args(whole, "60"), args(parts, "24"), args(parts, "60", "--resume")} {
		if _, _, err := runCLI(t, a...); err != nil {
			t.Fatal(err)
		}
	}
	a, err := os.ReadFile(filepath.Join(whole, "sae_weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(parts, "sae_weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Error("the resumed run's weights differ from the uninterrupted run's")
	}
	_, _, err = runCLI(t, args(parts, "80", "--resume", "--lr", "0.01")...)
	if err == nil || !strings.Contains(err.Error(), "--lr") {
		t.Errorf("resume with another --lr: error %v", err)
	}
	_, _, err = runCLI(t, args(filepath.Join(dir, "none"), "10", "--resume")...)
	if err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("resume without a checkpoint: error %v", err)
	}
}

// TestSAEAttributeCLI attributes a logit of a text model to its SAE's
// features (the terms add up to the total) and, between two transcoders,
// features to features.
func TestSAEAttributeCLI(t *testing.T) {
	model, text, dir := saeOnTextModel(t)
	stdout, _, err := runCLI(t, "sae", "attribute", "--model", model, "--sae", dir, "--text", "A Mary B John", "--answer", " Mary", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var at struct {
		Pos, Token         int
		Logit, Bias, Error float64
		Total              float64
		Features           []struct{ Attribution float64 }
	}
	if err := json.Unmarshal([]byte(stdout), &at); err != nil || len(at.Features) == 0 {
		t.Fatalf("%v: %s", err, stdout)
	}
	sum := at.Bias + at.Error
	for _, f := range at.Features {
		sum += f.Attribution
	}
	if d := sum - at.Total; d > 1e-4 || d < -1e-4 || at.Token != idMary || at.Pos != 4 {
		t.Errorf("attribution: features + bias + error = %g, total %g; token %d pos %d", sum, at.Total, at.Token, at.Pos)
	}
	var tcs []string
	for l := range 2 {
		out := filepath.Join(t.TempDir(), "tc")
		if _, _, err := runCLI(t, "sae", "train", "--model", model, "--text-file", text, "--hook", fmt.Sprintf("blocks.%d.ln2.hook_normalized", l),
			"--hook-out", fmt.Sprintf("blocks.%d.hook_mlp_out", l), "--out", out, "--steps", "30", "--batch", "64", "--d-sae", "32", "--k", "4"); err != nil {
			t.Fatal(err)
		}
		tcs = append(tcs, out)
	}
	stdout, _, err = runCLI(t, "sae", "attribute", "--model", model, "--sae", tcs[0], "--downstream", tcs[1], "--text", "A Mary B John", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var edges struct {
		Edges []struct{ Source, Target int } `json:"edges"`
	}
	if err := json.Unmarshal([]byte(stdout), &edges); err != nil || len(edges.Edges) == 0 {
		t.Errorf("edges: %v %s", err, stdout)
	}
	for _, tc := range [][]string{{"--sae", dir, "--text", "A"}, {"--sae", dir, "--text", "A", "--token", "1", "--answer", " Mary"}, {"--sae", tcs[1], "--downstream", tcs[0], "--text", "A Mary"}} {
		if _, _, err := runCLI(t, append([]string{"sae", "attribute", "--model", model}, tc...)...); err == nil {
			t.Errorf("%v accepted", tc)
		}
	}
}
