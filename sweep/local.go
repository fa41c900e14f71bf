package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/mechinterp/workbench/workers"
)

// LocalOptions configure Local.
type LocalOptions struct {
	// Workbench is the program that runs a task: it is called as
	// `Workbench sweep run-task DIR --index N`.
	Workbench string
	Jobs      int // tasks run at once (at least 1)
	// Progress, if set, receives a line per finished task, or with
	// Terminal one line rewritten in place.
	Progress io.Writer
	Terminal bool
	// Grace is how long an interrupted task may take to save its
	// checkpoint before it is killed (0: one minute).
	Grace time.Duration
}

// tailBytes is how much of a failed task's stderr Local keeps for its
// error.
const tailBytes = 2048

// Local runs every task of the sweep in dir that is not done, Jobs at a
// time, each in its own process (the run-task contract, as every backend),
// and returns an error naming the first failure when any task failed.
// Cancelling ctx interrupts the running tasks (SIGINT: they save a
// checkpoint and stay pending) and returns ctx's error.
func Local(ctx context.Context, dir string, o LocalOptions) error {
	if o.Workbench == "" {
		return errNoWorkbench
	}
	if o.Jobs < 1 {
		return fmt.Errorf("sweep: --jobs %d: want at least 1", o.Jobs)
	}
	_, sts, err := Status(dir)
	if err != nil {
		return err
	}
	var todo []int
	for _, st := range sts {
		if st.State != Done {
			todo = append(todo, st.Index)
		}
	}
	if len(todo) == 0 {
		progressf(o, "sweep: all %d tasks are done\n", len(sts))
		return nil
	}
	grace := o.Grace
	if grace == 0 {
		grace = time.Minute
	}
	var (
		mu                     sync.Mutex
		finished, failed, busy int
		firstErr               error
	)
	began := time.Now()
	workers.For(o.Jobs, len(todo), func(_, k int) {
		if ctx.Err() != nil {
			return
		}
		i := todo[k]
		mu.Lock()
		busy++
		mu.Unlock()
		t0 := time.Now()
		cmd := exec.CommandContext(ctx, o.Workbench, "sweep", "run-task", dir, "--index", strconv.Itoa(i))
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = grace
		tail := &tailWriter{max: tailBytes}
		cmd.Stderr = tail
		err := cmd.Run()
		mu.Lock()
		defer mu.Unlock()
		busy--
		if ctx.Err() != nil {
			return
		}
		finished++
		state := "done"
		if err != nil {
			failed++
			state = "FAILED"
			if firstErr == nil {
				firstErr = fmt.Errorf("sweep: task %d: %w: %s", i, err, tail.buf)
			}
		}
		if o.Terminal {
			progressf(o, "\rsweep: %d/%d finished, %d running, %d failed, %.1f s elapsed ", finished, len(todo), busy, failed, time.Since(began).Seconds())
		} else {
			progressf(o, "sweep: task %d (%s) %s in %.1f s [%d/%d]\n", i, sts[i].ID, state, time.Since(t0).Seconds(), finished, len(todo))
		}
	})
	if o.Terminal {
		progressf(o, "\n")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sweep: interrupted (run launch again to resume): %w", err)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d tasks failed (workbench sweep status %s); the first: %w", failed, len(todo), dir, firstErr)
	}
	return nil
}

func progressf(o LocalOptions, format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format, args...)
	}
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	max int
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - w.max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	return len(p), nil
}

// errNoWorkbench is returned when no program to run tasks was given.
var errNoWorkbench = errors.New("sweep: no workbench program to run tasks with")
