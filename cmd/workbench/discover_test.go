package main

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

type discoverJSON struct {
	Edges []struct {
		From  string   `json:"from"`
		To    string   `json:"to"`
		Score *float64 `json:"score"`
	} `json:"edges"`
	Faithfulness [][2]float64 `json:"faithfulness"`
}

// TestDiscoverJSON checks the contract of each method: every edge listed
// once with from, to and score, sorted by |score|, and a faithfulness curve
// from the empty circuit (0 edges, fraction 0) to the full one (fraction 1).
func TestDiscoverJSON(t *testing.T) {
	_, flags := patchFixture(t)
	for _, tc := range [][]string{
		{"--metric", "logit-diff", "--answer", "3", "--wrong", "4", "--method", "eap"},
		{"--metric", "loss", "--method", "eap-ig", "--steps", "3"},
		{"--metric", "kl", "--method", "acdc", "--tau", "0.001"},
		{"--metric", "loss", "--method", "eap", "--ablation", "mean"},
	} {
		out, _, err := runCLI(t, append(append([]string{"discover"}, flags...), append(tc, "--json")...)...)
		if err != nil {
			t.Fatalf("%v: %v", tc, err)
		}
		var got discoverJSON
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %v\n%s", tc, err, out)
		}
		// 2 layers × 2 heads with MLPs: receivers L0 q,k,v (2 senders each),
		// MLP0 (4), L1 q,k,v (5 each), MLP1 (7), logits (8).
		if want := 6*2 + 4 + 6*5 + 7 + 8; len(got.Edges) != want {
			t.Errorf("%v: %d edges, want %d", tc, len(got.Edges), want)
		}
		seen := map[string]bool{}
		prev := math.Inf(1)
		for _, e := range got.Edges {
			if e.From == "" || e.To == "" || e.Score == nil {
				t.Fatalf("%v: incomplete edge %+v", tc, e)
			}
			if seen[e.From+"->"+e.To] {
				t.Errorf("%v: edge %s->%s twice", tc, e.From, e.To)
			}
			seen[e.From+"->"+e.To] = true
			if math.Abs(*e.Score) > prev {
				t.Errorf("%v: edges not sorted by |score|", tc)
			}
			prev = math.Abs(*e.Score)
		}
		for _, name := range []string{"embed->L0H0.q", "pos_embed->L1H1.v", "L0H1->MLP0", "MLP1->logits", "L0H0->L1H1.k"} {
			if !seen[name] {
				t.Errorf("%v: no edge %s", tc, name)
			}
		}
		f := got.Faithfulness
		if len(f) < 3 || f[0][0] != 0 || math.Abs(f[0][1]) > 1e-4 || f[len(f)-1][0] != float64(len(got.Edges)) || math.Abs(f[len(f)-1][1]-1) > 1e-4 {
			t.Errorf("%v: faithfulness curve %v: want it to run from [0, 0] to [%d, 1]", tc, f, len(got.Edges))
		}
	}
}

// TestDiscoverGroundTruth checks `discover --ground-truth --json`: per
// method its AUC, faithfulness area and edges, and ACDC's exact flag.
func TestDiscoverGroundTruth(t *testing.T) {
	out, _, err := runCLI(t, "discover", "--ground-truth", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]struct {
		AUC   *float64 `json:"auc"`
		Area  *float64 `json:"faithfulness_area"`
		Edges []struct {
			From, To string
		} `json:"edges"`
		Exact *bool `json:"exact"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"eap", "eap-ig", "acdc"} {
		r, ok := got[m]
		if !ok || r.AUC == nil || r.Area == nil || len(r.Edges) == 0 {
			t.Fatalf("%s: incomplete result in %s", m, out)
		}
		if *r.AUC < 0.999 {
			t.Errorf("%s: AUC %g on the compiled model", m, *r.AUC)
		}
	}
	if e := got["acdc"].Exact; e == nil || !*e || len(got["acdc"].Edges) != 5 {
		t.Errorf("acdc: exact %v with %d edges, want exactly the 5 true edges", e, len(got["acdc"].Edges))
	}
}

func TestDiscoverBadInput(t *testing.T) {
	_, flags := patchFixture(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append(append([]string{}, flags...), "--metric", "loss"), "--method"},
		{append(append([]string{}, flags...), "--metric", "nats", "--method", "eap"), "--metric"},
		{append(append([]string{}, flags...), "--metric", "logit-diff", "--method", "eap"), "--answer"},
		{append(append([]string{}, flags...), "--metric", "loss", "--method", "eap", "--ablation", "noise"), "ablation"},
		{append(append([]string{}, flags...), "--metric", "loss", "--method", "eap-ig", "--steps", "0"), "--steps"},
		{append(append([]string{}, flags...), "--metric", "kl", "--method", "acdc", "--tau", "-1"), "--tau"},
		{append(append([]string{}, flags...), "--metric", "loss", "--method", "eap", "--answer", "3"), "logit-diff only"},
		{[]string{"--ground-truth", "--method", "eap"}, "does not apply"},
	} {
		_, _, err := runCLI(t, append([]string{"discover"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}

// TestDiscoverText: discover takes text as patch does, and scores the
// same edges as on the same ids from files.
func TestDiscoverText(t *testing.T) {
	dir := textModelDir(t)
	clean, corrupted := "A Mary B John C", "A John B John C"
	out, _, err := runCLI(t, "discover", "--model", dir, "--clean-text", clean, "--corrupted-text", corrupted,
		"--metric", "logit-diff", "--answer", " Mary", "--wrong", " John", "--method", "eap", "--json")
	if err != nil {
		t.Fatal(err)
	}
	cleanIDs := []int{'A', idMary, ' ', 'B', idJohn, ' ', 'C'}
	corruptedIDs := []int{'A', idJohn, ' ', 'B', idJohn, ' ', 'C'}
	ref, _, err := runCLI(t, "discover", "--model", dir, "--clean", seqFile(t, cleanIDs), "--corrupted", seqFile(t, corruptedIDs),
		"--metric", "logit-diff", "--answer", strconv.Itoa(idMary), "--wrong", strconv.Itoa(idJohn), "--method", "eap", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if out != ref {
		t.Errorf("text and ids give different edges:\n%.300s\n%.300s", out, ref)
	}
	if _, _, err := runCLI(t, "discover", "--model", dir, "--clean-text", clean, "--corrupted-text", "A John",
		"--metric", "loss", "--method", "eap"); err == nil || !strings.Contains(err.Error(), "tokens") {
		t.Errorf("texts of different lengths: %v", err)
	}
}
