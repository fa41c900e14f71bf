package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mechinterp/workbench/train"
)

// runsFolder is what serve found at --runs: the folder it lists runs from
// and a sentence for the banner saying what is there.
type runsFolder struct {
	dir, found string
}

// findRuns looks at the --runs folder dir. A folder of run folders is
// listed as is; a missing one is created by the first training the
// dashboard starts; a folder that is itself one run (train.json,
// metrics.jsonl or model.safetensors inside) is served through its parent,
// which holds it, and the sentence says so. A file is refused.
func findRuns(dir string) (runsFolder, error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return runsFolder{dir, fmt.Sprintf("runs folder %s: does not exist yet; trainings started on the dashboard are saved there", dir)}, nil
	case err != nil:
		return runsFolder{}, fmt.Errorf("serve: --runs %s: %w", dir, err)
	case !st.IsDir():
		return runsFolder{}, fmt.Errorf("serve: --runs %s is a file; it wants a folder holding run folders (such as runs/, where 'workbench train induction --out runs/NAME' writes)", dir)
	}
	if isRunFolder(dir) {
		parent := filepath.Dir(filepath.Clean(dir))
		names := runNames(parent)
		return runsFolder{parent, fmt.Sprintf("--runs %s is one run, not a folder of runs: serving its parent %s, which holds %s", dir, parent, describeRuns(names))}, nil
	}
	return runsFolder{dir, fmt.Sprintf("runs folder %s: %s; trainings started on the dashboard are saved there", dir, describeRuns(runNames(dir)))}, nil
}

// isRunFolder reports whether dir holds the files a training writes.
func isRunFolder(dir string) bool {
	for _, name := range []string{train.TrainConfigFile, train.MetricsFile, "model.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// runNames returns the names of dir's subfolders that are runs.
func runNames(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && isRunFolder(filepath.Join(dir, e.Name())) {
			out = append(out, e.Name())
		}
	}
	return out
}

// describeRuns says "no runs yet", "1 run (a)" or "3 runs (a, b, c)",
// naming at most five.
func describeRuns(names []string) string {
	switch len(names) {
	case 0:
		return "no runs yet"
	case 1:
		return "1 run (" + names[0] + ")"
	}
	shown := names[:min(len(names), 5)]
	more := ""
	if len(names) > len(shown) {
		more = ", …"
	}
	return fmt.Sprintf("%d runs (%s%s)", len(names), strings.Join(shown, ", "), more)
}
