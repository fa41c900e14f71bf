package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mechinterp/workbench/train"
)

// Files of a task's state folder (TaskDir).
const (
	LogFile    = "log.txt"
	DoneFile   = "done.json"
	FailedFile = "failed.json"
)

// State is a task's state as its folder shows it.
type State string

// The states of a task.
const (
	Pending State = "pending" // never run, or interrupted (it resumes)
	Running State = "running" // its folder is locked by a live run-task
	Done    State = "done"
	Failed  State = "failed" // the last attempt returned an error
)

// lockWait is how long RunTask waits for a task's lock before it reports
// the task as running elsewhere: Status holds the lock for microseconds
// when it looks, and that must not fail a task.
const lockWait = 2 * time.Second

// RunTask runs task t of the sweep in dir (the plan p's) with run, the
// CLI's entry point, holding the task's folder locked: a done task is
// skipped (done true, nothing run), a task with a checkpoint resumes from
// it (--resume), and after training each of the spec's analyses writes
// runs/ID/NAME.json. Its output is appended to tasks/ID/log.txt. A failure
// is recorded in failed.json and returned; a cancelled ctx (the training
// saved a checkpoint) returns an error and leaves the task pending.
func RunTask(ctx context.Context, dir string, p Plan, t Task, run Runner) (done bool, err error) {
	td := TaskDir(dir, t.ID)
	lock, err := lockTask(ctx, td)
	if err != nil {
		return false, fmt.Errorf("sweep: task %d (%s): %w", t.Index, t.ID, err)
	}
	defer lock.Unlock()
	if _, err := os.Stat(filepath.Join(td, DoneFile)); err == nil {
		return true, nil
	}
	if err := os.Remove(filepath.Join(td, FailedFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("sweep: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(td, LogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return false, fmt.Errorf("sweep: %w", err)
	}
	defer logf.Close()
	err = runTask(ctx, dir, p, t, run, logf)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(logf, "== failed: %v\n", err)
		if werr := train.WriteJSON(filepath.Join(td, FailedFile), map[string]string{"error": err.Error()}); werr != nil {
			return false, errors.Join(err, werr)
		}
		return false, err
	}
	if err != nil || ctx.Err() != nil {
		fmt.Fprintln(logf, "== interrupted; the next run-task resumes it")
		return false, fmt.Errorf("sweep: task %d (%s) interrupted: %w", t.Index, t.ID, context.Cause(ctx))
	}
	fmt.Fprintln(logf, "== done")
	return false, train.WriteJSON(filepath.Join(td, DoneFile), t)
}

// runTask trains task t and runs its analyses, writing their output to
// log.
func runTask(ctx context.Context, dir string, p Plan, t Task, run Runner, log io.Writer) error {
	rd := RunDir(dir, t.ID)
	args := append(append([]string(nil), t.Args...), "--out="+rd)
	if err := os.MkdirAll(rd, 0o755); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	steps, err := train.Checkpoints(rd)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if len(steps) > 0 {
		args = append(args, "--resume")
	}
	fmt.Fprintf(log, "== %s workbench %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(args, " "))
	if err := run(ctx, args, log, log); err != nil {
		return fmt.Errorf("sweep: task %d (%s): %w", t.Index, t.ID, err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for _, a := range p.Spec.Analyses {
		var out bytes.Buffer
		aa := analysisArgs(a, rd)
		fmt.Fprintf(log, "== workbench %s\n", strings.Join(aa, " "))
		if err := run(ctx, aa, &out, log); err != nil {
			return fmt.Errorf("sweep: task %d (%s): %s: %w", t.Index, t.ID, a, err)
		}
		if !json.Valid(out.Bytes()) {
			return fmt.Errorf("sweep: task %d (%s): %s printed no JSON", t.Index, t.ID, a)
		}
		if err := train.WriteJSON(filepath.Join(rd, a+".json"), json.RawMessage(out.Bytes())); err != nil {
			return err
		}
	}
	return nil
}

// lockTask locks the task folder td, waiting up to lockWait for a holder
// that only looks (Status).
func lockTask(ctx context.Context, td string) (*train.Lock, error) {
	deadline := time.Now().Add(lockWait)
	for {
		l, err := train.LockDir(td)
		if err == nil || !errors.Is(err, train.ErrLocked) || time.Now().After(deadline) {
			if errors.Is(err, train.ErrLocked) {
				return nil, fmt.Errorf("running elsewhere: %w", err)
			}
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TaskStatus is a task and its state.
type TaskStatus struct {
	Task
	State State  `json:"state"`
	Error string `json:"error,omitempty"` // the failure, for Failed
}

// Status reads the state of every task of the sweep in dir from the task
// folders, whichever backend ran them.
func Status(dir string) (Plan, []TaskStatus, error) {
	p, err := ReadPlan(dir)
	if err != nil {
		return p, nil, err
	}
	out := make([]TaskStatus, len(p.Tasks))
	for i, t := range p.Tasks {
		out[i] = TaskStatus{Task: t}
		out[i].State, out[i].Error, err = taskState(TaskDir(dir, t.ID))
		if err != nil {
			return p, nil, err
		}
	}
	return p, out, nil
}

// taskState reads one task folder.
func taskState(td string) (State, string, error) {
	if _, err := os.Stat(td); errors.Is(err, os.ErrNotExist) {
		return Pending, "", nil
	}
	if _, err := os.Stat(filepath.Join(td, DoneFile)); err == nil {
		return Done, "", nil
	}
	l, err := train.LockDir(td)
	if errors.Is(err, train.ErrLocked) {
		return Running, "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("sweep: %w", err)
	}
	l.Unlock()
	b, err := os.ReadFile(filepath.Join(td, FailedFile))
	if errors.Is(err, os.ErrNotExist) {
		return Pending, "", nil
	}
	var f struct {
		Error string `json:"error"`
	}
	if err != nil || json.Unmarshal(b, &f) != nil {
		return Failed, "unreadable " + FailedFile, nil
	}
	return Failed, f.Error, nil
}

// Counts formats the number of tasks in each state:
// "4 done, 0 running, 0 failed, 0 pending".
func Counts(ts []TaskStatus) string {
	n := map[State]int{}
	for _, t := range ts {
		n[t.State]++
	}
	return fmt.Sprintf("%d done, %d running, %d failed, %d pending", n[Done], n[Running], n[Failed], n[Pending])
}

// WriteStatus writes Counts and one line per task: index, ID, state, the
// task's axes and, for a failed task, its error.
func WriteStatus(w io.Writer, ts []TaskStatus) {
	fmt.Fprintln(w, Counts(ts))
	for _, t := range ts {
		var axes []string
		for _, n := range sortedKeys(t.Axes) {
			axes = append(axes, n+"="+t.Axes[n])
		}
		line := fmt.Sprintf("%4d  %s  %-7s  %s", t.Index, t.ID, t.State, strings.Join(axes, " "))
		if t.Error != "" {
			line += "  (" + t.Error + ")"
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}
