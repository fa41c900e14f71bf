package web

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/train"
)

// A run's checkpoints are models too: "RUN.step-000450" is the checkpoint
// runs/RUN/checkpoints/step-000450.safetensors, which the Training page
// links to and every model page opens (?model=RUN.step-000450). They are
// not in the model list (a run may keep many); GET /api/models?with=NAME
// adds one, so that the picker can show the one a page was opened on.

// checkpointMarker separates a run's name from a checkpoint's step.
const checkpointMarker = ".step-"

// maxCheckpointModels bounds the checkpoints kept loaded at once.
const maxCheckpointModels = 8

// checkpointModelName is the model name of run's checkpoint at step.
func checkpointModelName(run string, step int) string {
	return fmt.Sprintf("%s%s%06d", run, checkpointMarker, step)
}

// parseCheckpointName splits a checkpoint's model name; ok is false for
// any other name, including a step not written as checkpointModelName
// writes it (so that one checkpoint has one name).
func parseCheckpointName(name string) (run string, step int, ok bool) {
	k := strings.LastIndex(name, checkpointMarker)
	if k <= 0 {
		return "", 0, false
	}
	run, digits := name[:k], name[k+len(checkpointMarker):]
	step, err := strconv.Atoi(digits)
	if err != nil || step < 0 || checkpointModelName(run, step) != name || checkName(run) != nil {
		return "", 0, false
	}
	return run, step, true
}

// newCheckpointCache loads the checkpoints of the runs in runsDir as models.
func newCheckpointCache(runsDir string) *runCache[*model] {
	load := func(name string, f *checkpoint.File) (*model, error) {
		m, err := newModel(name, "checkpoint", f)
		if err != nil {
			return nil, err
		}
		run, _, _ := parseCheckpointName(name)
		return m, runTokenizer(m, filepath.Join(runsDir, run))
	}
	c := newRunCache(runsDir, "checkpoint", load)
	c.file = func(name string) string {
		run, step, _ := parseCheckpointName(name)
		return train.CheckpointPath(filepath.Join(runsDir, run), step)
	}
	c.limit = maxCheckpointModels
	return c
}

// checkpointModel returns the model of a checkpoint name (parsed by
// parseCheckpointName): 404 when the run has no such checkpoint.
func (s *store) checkpointModel(name, run string, step int) (*model, error) {
	path := train.CheckpointPath(filepath.Join(s.runsDir, run), step)
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		return nil, errorf(http.StatusNotFound, "web: run %q has no checkpoint at step %d (GET /api/runs/%s/checkpoints lists them)", run, step, run)
	}
	return s.ckpts.get(name)
}

// runCheckpoint is one checkpoint in GET /api/runs/{run}/checkpoints.
type runCheckpoint struct {
	Step  int    `json:"step"`
	Model string `json:"model"` // its name for /api/models and ?model=
	// Role is "before" for the last checkpoint at or before the phase
	// change's start, "after" for the first at or after it, else "".
	Role string `json:"role,omitempty"`
}

// runCheckpoints is GET /api/runs/{run}/checkpoints.
type runCheckpoints struct {
	Run         string          `json:"run"`
	Final       string          `json:"final,omitempty"` // the run's model, when it has one
	Checkpoints []runCheckpoint `json:"checkpoints"`
	PhaseChange *phase          `json:"phase_change"`
}

// checkpoints lists a run's checkpoints, ascending, with the pair around
// its phase change marked.
func (a *runsAPI) checkpoints(w http.ResponseWriter, r *http.Request) error {
	d, err := a.run(r)
	if err != nil {
		return err
	}
	out := runCheckpoints{Run: d.Name, Checkpoints: []runCheckpoint{}}
	if d.HasModel {
		out.Final = d.Name
	}
	b, err := a.readRunFile(d.Name, metricsFile)
	if err != nil {
		return err
	}
	out.PhaseChange = runPhase(parseMetrics(b), d.Summary)
	if isEmbeddedRun(d.Name) {
		return writeJSON(w, http.StatusOK, out)
	}
	steps, err := train.Checkpoints(filepath.Join(a.dir, d.Name))
	if err != nil {
		return errorf(http.StatusUnprocessableEntity, "web: run %q: %s", d.Name, relMessage(a.dir, err))
	}
	before, after := -1, -1
	for k, s := range steps {
		out.Checkpoints = append(out.Checkpoints, runCheckpoint{Step: s, Model: checkpointModelName(d.Name, s)})
		if pc := out.PhaseChange; pc != nil {
			if s <= pc.Before {
				before = k
			}
			if s >= pc.At && after < 0 {
				after = k
			}
		}
	}
	if before >= 0 {
		out.Checkpoints[before].Role = "before"
	}
	if after >= 0 {
		out.Checkpoints[after].Role = "after"
	}
	return writeJSON(w, http.StatusOK, out)
}
