package sweep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// asWorkbenchEnv makes this test binary a stand-in workbench program for
// Local: `sweep run-task DIR --index N` runs task N with fakeCLI, whose
// training fails for the seed in failSeedEnv.
const (
	asWorkbenchEnv = "SWEEP_TEST_AS_WORKBENCH"
	failSeedEnv    = "SWEEP_TEST_FAIL_SEED"
)

func TestMain(m *testing.M) {
	if os.Getenv(asWorkbenchEnv) == "1" {
		if err := fakeRunTask(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "workbench:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fakeRunTask(args []string) error {
	if len(args) != 5 || args[0] != "sweep" || args[1] != "run-task" || args[3] != "--index" {
		return fmt.Errorf("unexpected arguments %q", args)
	}
	p, err := ReadPlan(args[2])
	if err != nil {
		return err
	}
	i, err := strconv.Atoi(args[4])
	if err != nil {
		return err
	}
	t, err := p.Find(i)
	if err != nil {
		return err
	}
	cli := &fakeCLI{onTrain: func(context.Context, string) error {
		if t.Axes["seed"] == os.Getenv(failSeedEnv) {
			return errors.New("loss became NaN")
		}
		return nil
	}}
	_, err = RunTask(context.Background(), args[2], p, t, cli.run)
	return err
}

func TestLocal(t *testing.T) {
	t.Setenv(asWorkbenchEnv, "1")
	t.Setenv(failSeedEnv, "2")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := planned(t, &fakeCLI{}, 4)
	var progress strings.Builder
	err = Local(context.Background(), dir, LocalOptions{Workbench: exe, Jobs: 2, Progress: &progress})
	if err == nil || !strings.Contains(err.Error(), "1 of 4 tasks failed") || !strings.Contains(err.Error(), "loss became NaN") {
		t.Fatalf("Local with a failing task: %v, want 1 of 4 failed naming its error", err)
	}
	if got := strings.Count(progress.String(), "\n"); got != 4 || !strings.Contains(progress.String(), "task 2 (") || !strings.Contains(progress.String(), "FAILED") {
		t.Errorf("progress:\n%s\nwant a line per task, task 2 FAILED", progress.String())
	}
	_, sts, _ := Status(dir)
	if got, want := Counts(sts), "3 done, 0 running, 1 failed, 0 pending"; got != want {
		t.Errorf("after Local: %q, want %q", got, want)
	}
	// Relaunched with the cause gone, only the failed task runs.
	t.Setenv(failSeedEnv, "none")
	progress.Reset()
	if err := Local(context.Background(), dir, LocalOptions{Workbench: exe, Jobs: 2, Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(progress.String(), "\n"); got != 1 || !strings.Contains(progress.String(), "task 2 (") {
		t.Errorf("relaunch progress:\n%s\nwant task 2 alone", progress.String())
	}
	if _, sts, _ = Status(dir); Counts(sts) != "4 done, 0 running, 0 failed, 0 pending" {
		t.Errorf("after the relaunch: %s", Counts(sts))
	}
	if err := Local(context.Background(), dir, LocalOptions{Workbench: exe, Jobs: 0}); err == nil || !strings.Contains(err.Error(), "--jobs 0") {
		t.Errorf("--jobs 0: %v, want a refusal", err)
	}
	if err := Local(context.Background(), t.TempDir(), LocalOptions{Workbench: exe, Jobs: 1}); err == nil {
		t.Error("Local on a folder without a plan succeeded")
	}
}
