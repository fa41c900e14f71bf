package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tourCommands returns the commands of the README's tour: the first sh
// block after "## A tour", continuation lines joined, comments dropped,
// each split into words as the shell would (double quotes only).
func tourCommands(t *testing.T, readme string) [][]string {
	t.Helper()
	i := strings.Index(readme, "## A tour")
	if i < 0 {
		t.Fatal("README has no \"## A tour\" section")
	}
	rest := readme[i:]
	start := strings.Index(rest, "```sh\n")
	end := strings.Index(rest[start+6:], "```")
	if start < 0 || end < 0 {
		t.Fatal("the tour has no sh block")
	}
	block := strings.ReplaceAll(rest[start+6:start+6+end], "\\\n", " ")
	var cmds [][]string
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if c := strings.Index(line, " #"); c >= 0 {
			line = line[:c]
		}
		words, err := shellWords(line)
		if err != nil {
			t.Fatalf("tour line %q: %v", line, err)
		}
		if len(words) < 3 || words[0] != "go" || words[1] != "run" || words[2] != "./cmd/workbench" {
			t.Fatalf("tour line %q is not `go run ./cmd/workbench …`: a fresh clone could not run it through the CLI", line)
		}
		cmds = append(cmds, words[3:])
	}
	return cmds
}

// shellWords splits s at spaces outside double quotes.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, errors.New("unclosed quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// TestREADMETour runs every command of the README's tour, in order, as
// written, in a fresh folder holding the repository's examples/ (a fresh
// clone's root), and checks what the tour's comments say of the results.
// serve is started on a free port (the tour's default 8080 may be taken
// on a test machine) and stopped once it has printed its banner.
func TestREADMETour(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	cmds := tourCommands(t, string(readme))
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.CopyFS(filepath.Join(root, "examples"), os.DirFS(examples)); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	outputs := map[string]string{}
	for _, args := range cmds {
		name := strings.Join(args, " ")
		if args[0] == "serve" {
			banner := runTourServe(t, args)
			if !strings.Contains(banner, "1 run (induction)") {
				t.Errorf("%s: banner %q does not say the runs folder holds the induction run", name, banner)
			}
			continue
		}
		timeout := time.Minute
		if args[0] == "train" {
			timeout = 10 * time.Minute
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		var out, errb syncBuffer
		start := time.Now()
		err := run(ctx, args, &out, &errb)
		cancel()
		if err != nil {
			t.Fatalf("workbench %s: %v\nstderr:\n%s", name, err, errb.String())
		}
		t.Logf("workbench %s: %.1f s", name, time.Since(start).Seconds())
		outputs[args[0]] = out.String()
	}
	// The comments' claims.
	num := func(out, pattern string) float64 {
		t.Helper()
		m := regexp.MustCompile(pattern).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %q in:\n%s", pattern, out)
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	all := num(outputs["eval"], `all positions 0\.\.38: +loss ([0-9.]+)`)
	pred := num(outputs["eval"], `predictable positions: loss ([0-9.]+)`)
	predAcc := num(outputs["eval"], `predictable positions: loss [0-9.]+, accuracy ([0-9.]+)`)
	if !(pred < 0.1 && predAcc > 0.95 && all > 10*pred) {
		t.Errorf("eval: loss %v over all positions, %v (accuracy %v) over the predictable ones: the tour says nearly perfect on those, the mean over all dominated by the first half", all, pred, predAcc)
	}
	clean := num(outputs["patch"], `clean run (-?[0-9.e+-]+),`)
	corrupted := num(outputs["patch"], `corrupted run (-?[0-9.e+-]+)`)
	if !(clean > 0 && corrupted < 0) {
		t.Errorf("patch: logit difference 7 − 9 is %v clean and %v corrupted: the tour says the model answers 7, then 9", clean, corrupted)
	}
	if !strings.Contains(outputs["generate"], "new: 21 33 48") {
		t.Errorf("generate: %q, the tour says it goes on with 21 33 48", outputs["generate"])
	}
	if _, err := os.Stat("induction.safetensors"); err != nil {
		t.Errorf("convert wrote no induction.safetensors: %v", err)
	}
}

// runTourServe runs the tour's serve command on a free port until it
// prints its banner, stops it, and returns what it printed.
func runTourServe(t *testing.T, args []string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, append(args, "--addr", "127.0.0.1:0"), &out, &errb) }()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(out.String(), "Ctrl-C") {
		select {
		case err := <-done:
			t.Fatalf("workbench %s exited: %v\n%s", strings.Join(args, " "), err, errb.String())
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("workbench %s printed no banner in 30 s", strings.Join(args, " "))
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("workbench %s stopped with %v", strings.Join(args, " "), err)
	}
	return out.String()
}
