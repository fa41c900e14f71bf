package train

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Point is one evaluation of a metric: its value after Step steps.
type Point struct {
	Step  int
	Value float64
}

// PhaseChange finds the step at which a metric that rises during training
// (an induction score, say) jumps: the first evaluation at which it passes
// halfway from its first value to its maximum. It reports ok = false when the
// rise is smaller than minRise (no phase change). before is the evaluation
// step just before the jump (or the first one).
func PhaseChange(series []Point, minRise float64) (before, at int, ok bool) {
	if len(series) < 2 {
		return 0, 0, false
	}
	first, top := series[0].Value, series[0].Value
	for _, p := range series {
		top = max(top, p.Value)
	}
	if top-first < minRise {
		return 0, 0, false
	}
	half := first + (top-first)/2
	for i, p := range series {
		if p.Value >= half {
			if i == 0 {
				return p.Step, p.Step, true
			}
			return series[i-1].Step, p.Step, true
		}
	}
	return 0, 0, false
}

// LossBump finds the largest rise of the loss between consecutive logged
// records: the step at which it peaks and by how much it rose.
func LossBump(series []Point) (step int, rise float64) {
	for i := 1; i < len(series); i++ {
		if d := series[i].Value - series[i-1].Value; d > rise {
			step, rise = series[i].Step, d
		}
	}
	return step, rise
}

// Prune removes every checkpoint in dir except those after the given
// steps, and the temporary files interrupted writes left among them. Call
// it while holding dir's Lock.
func Prune(dir string, keep []int) error {
	if _, err := removeTemps(filepath.Join(dir, "checkpoints")); err != nil {
		return err
	}
	steps, err := Checkpoints(dir)
	if err != nil {
		return err
	}
	for _, s := range steps {
		if !slices.Contains(keep, s) {
			if err := os.Remove(CheckpointPath(dir, s)); err != nil {
				return fmt.Errorf("train: prune: %w", err)
			}
		}
	}
	return nil
}
