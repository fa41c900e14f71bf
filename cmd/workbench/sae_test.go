package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestSAEToyJSON checks `sae toy --json`: the ground-truth run reports its
// MMCS, high at the right dictionary size.
func TestSAEToyJSON(t *testing.T) {
	out, _, err := runCLI(t, "sae", "toy", "--steps", "1500", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		MMCS    *float64 `json:"mmcs"`
		Reverse *float64 `json:"reverse_mmcs"`
		L0      *float64 `json:"l0"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.MMCS == nil || got.Reverse == nil || got.L0 == nil {
		t.Fatalf("%v: %s", err, out)
	}
	if *got.MMCS < 0.9 {
		t.Errorf("toy MMCS %.3f", *got.MMCS)
	}
}

// TestSAETrainEval trains a dictionary on a `train induction` run's model
// with no input (the model's own task), checks the JSON contract, and
// evaluates the saved folder with `sae eval`.
func TestSAETrainEval(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	if _, _, err := runCLI(t, "train", "induction", "--out", run, "--steps", "50", "--d-model", "16", "--n-heads", "2"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "sae")
	stdout, _, err := runCLI(t, "sae", "train", "--model", run, "--hook", "blocks.1.hook_resid_post", "--out", out,
		"--steps", "100", "--batch", "256", "--d-sae", "64", "--k", "4", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"l0", "fvu", "ce_loss_recovered", "dead_fraction", "checkpoint"} {
		if _, ok := got[k]; !ok {
			t.Errorf("sae train --json has no %q: %s", k, stdout)
		}
	}
	if got["l0"].(float64) > 4 || got["checkpoint"] != out {
		t.Errorf("l0 %v (k = 4), checkpoint %v", got["l0"], got["checkpoint"])
	}
	ev, _, err := runCLI(t, "sae", "eval", "--sae", out, "--model", run, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ev, `"ce_loss_recovered"`) {
		t.Errorf("sae eval: %s", ev)
	}
}

func TestSAEBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sae"}, "subcommand"},
		{[]string{"sae", "fit"}, "unknown subcommand"},
		{[]string{"sae", "toy", "--architecture", "gated"}, "architecture"},
		{[]string{"sae", "toy", "--sparsity", "1"}, "probability"},
		{[]string{"sae", "train", "--hook", "blocks.0.hook_resid_post"}, "--out"},
		{[]string{"sae", "eval"}, "--sae"},
	} {
		_, _, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}
