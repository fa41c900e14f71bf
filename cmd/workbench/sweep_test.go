package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mechinterp/workbench/sweep"
	"github.com/mechinterp/workbench/sweep/slurmtest"
	"github.com/mechinterp/workbench/train"
	"github.com/mechinterp/workbench/transformer"
)

// cliAsWorkbenchEnv makes this test binary act as the workbench program
// (TestMain runs its arguments), so that a backend can run tasks with it:
// `TESTBINARY sweep run-task DIR --index N`.
const cliAsWorkbenchEnv = "WORKBENCH_TEST_AS_CLI"

func argvJSON(args []string) string {
	b, _ := json.Marshal(args)
	return string(b)
}

// sweepSpec is a tiny induction sweep of the given seeds: quickInduction's
// flags, 60 steps, the analyze analysis.
func sweepSpec(t *testing.T, seeds string) string {
	t.Helper()
	flags := map[string]string{}
	for i := 0; i < len(quickInduction); i += 2 {
		flags[strings.TrimPrefix(quickInduction[i], "--")] = quickInduction[i+1]
	}
	flags["steps"] = "60"
	b, _ := json.Marshal(flags)
	path := filepath.Join(t.TempDir(), "spec.json")
	spec := `{"command": "train induction", "flags": ` + string(b) + `, "grid": {"seed": [` + seeds + `]}, "analyses": ["analyze"]}`
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// asWorkbench makes this test binary the workbench program of the tasks
// a backend starts, and returns its path.
func asWorkbench(t *testing.T) string {
	t.Helper()
	t.Setenv(cliAsWorkbenchEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// sameRun fails t unless run folders a and b hold byte-identical
// model.safetensors and checkpoints, and the same metrics.jsonl apart
// from each record's elapsed_s (wall time).
func sameRun(t *testing.T, a, b string) {
	t.Helper()
	files := []string{transformer.ModelFile}
	ents, err := os.ReadDir(filepath.Join(a, "checkpoints"))
	if err != nil || len(ents) == 0 {
		t.Fatalf("%s has no checkpoints: %v", a, err)
	}
	for _, e := range ents {
		files = append(files, filepath.Join("checkpoints", e.Name()))
	}
	for _, f := range files {
		x, errA := os.ReadFile(filepath.Join(a, f))
		y, errB := os.ReadFile(filepath.Join(b, f))
		if errA != nil || errB != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between %s and %s (%v, %v)", f, a, b, errA, errB)
		}
	}
	if ma, mb := metricsWithoutTime(t, a), metricsWithoutTime(t, b); !slices.Equal(ma, mb) || len(ma) == 0 {
		t.Errorf("metrics.jsonl differs between %s and %s:\n%q\n%q", a, b, ma, mb)
	}
}

// metricsWithoutTime returns run's metrics.jsonl records, re-encoded
// without elapsed_s.
func metricsWithoutTime(t *testing.T, run string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(run, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %v", run, err)
		}
		if _, ok := rec["elapsed_s"]; !ok && rec["event"] == nil {
			t.Errorf("%s: a record without elapsed_s: the comparison may be stale", run)
		}
		delete(rec, "elapsed_s")
		b, _ := json.Marshal(rec) // map keys sorted
		out = append(out, string(b))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSweepLocal plans a 3-seed induction sweep, runs it on the local
// backend (2 jobs, each task in its own process), and checks the status
// line, every task's run folder and analysis, that a task equals the same
// training run by `workbench train induction` directly, and that a second
// launch runs nothing.
func TestSweepLocal(t *testing.T) {
	exe := asWorkbench(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	if out, stderr, err := runCLI(t, "sweep", "plan", sweepSpec(t, "0, 1, 2"), "--out", dir); err != nil || !strings.Contains(out, "planned 3 tasks") {
		t.Fatalf("sweep plan: %v\n%s%s", err, out, stderr)
	}
	if _, stderr, err := runCLI(t, "sweep", "launch", dir, "--backend", "local", "--jobs", "2", "--workbench", exe); err != nil {
		t.Fatalf("sweep launch: %v\n%s", err, stderr)
	}
	out, _, err := runCLI(t, "sweep", "status", dir)
	if err != nil || !strings.HasPrefix(out, "3 done, 0 running, 0 failed, 0 pending\n") {
		t.Fatalf("sweep status: %v\n%s", err, out)
	}
	p, err := sweep.ReadPlan(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range p.Tasks {
		rd := sweep.RunDir(dir, task.ID)
		if _, err := transformer.Load(rd); err != nil {
			t.Errorf("task %d: %v", task.Index, err)
		}
		var a map[string]any
		b, err := os.ReadFile(filepath.Join(rd, "analyze.json"))
		if err != nil || json.Unmarshal(b, &a) != nil || a["heads"] == nil {
			t.Errorf("task %d: analyze.json without heads: %v", task.Index, err)
		}
	}
	direct := filepath.Join(t.TempDir(), "direct")
	if _, _, err := runCLI(t, append(trainArgs(direct, "--steps", "60", "--seed", "1"), "--json")...); err != nil {
		t.Fatal(err)
	}
	sameRun(t, sweep.RunDir(dir, p.Tasks[1].ID), direct)
	_, stderr, err := runCLI(t, "sweep", "launch", dir, "--workbench", exe)
	if err != nil || !strings.Contains(stderr, "all 3 tasks are done") {
		t.Errorf("second launch: %v\n%s", err, stderr)
	}
}

// TestSweepSlurmMatchesLocal starts a real single-node Slurm cluster,
// submits a 6-task induction sweep as a job array (2 tasks per element,
// at most 2 elements at once), waits for it, and checks that every task's
// model, checkpoints and metrics equal the same task run by the local
// backend.
func TestSweepSlurmMatchesLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Slurm cluster and trains 12 models; run without -short")
	}
	slurmtest.Start(t)
	exe := asWorkbench(t)
	spec := sweepSpec(t, "0, 1, 2, 3, 4, 5")
	local, cluster := filepath.Join(t.TempDir(), "local"), filepath.Join(t.TempDir(), "slurm")
	for _, dir := range []string{local, cluster} {
		if _, stderr, err := runCLI(t, "sweep", "plan", spec, "--out", dir); err != nil {
			t.Fatalf("sweep plan: %v\n%s", err, stderr)
		}
	}
	if _, stderr, err := runCLI(t, "sweep", "launch", local, "--jobs", "2", "--workbench", exe); err != nil {
		t.Fatalf("local launch: %v\n%s", err, stderr)
	}
	began := time.Now()
	out, stderr, err := runCLI(t, "sweep", "launch", cluster, "--backend", "slurm", "--tasks-per-job", "2", "--max-parallel", "2",
		"--time", "10", "--wait", "--workbench", exe)
	if err != nil {
		t.Fatalf("slurm launch: %v\n%s%s", err, out, stderr)
	}
	t.Logf("slurm: 6 tasks in 3 array elements took %.1f s from sbatch to the empty queue", time.Since(began).Seconds())
	status, _, err := runCLI(t, "sweep", "status", cluster)
	if err != nil || !strings.HasPrefix(status, "6 done, 0 running, 0 failed, 0 pending\n") {
		t.Fatalf("status after the array: %v\n%s", err, status)
	}
	logs, _ := filepath.Glob(filepath.Join(cluster, sweep.SlurmDir, "*_*.out"))
	if len(logs) != 3 {
		t.Errorf("%d array element outputs (%q), want 3", len(logs), logs)
	}
	p, err := sweep.ReadPlan(cluster)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range p.Tasks {
		sameRun(t, sweep.RunDir(local, task.ID), sweep.RunDir(cluster, task.ID))
	}
}

// TestSweepK8sIndexedTask prints the Indexed Job manifest of a 2-task
// sweep and runs its container command here, as a pod would: with
// JOB_COMPLETION_INDEX=1 and DIR mounted at the manifest's path. Task 1
// must be done, task 0 untouched; a flag of another backend is refused.
func TestSweepK8sIndexedTask(t *testing.T) {
	exe := asWorkbench(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	if _, stderr, err := runCLI(t, "sweep", "plan", sweepSpec(t, "0, 1"), "--out", dir); err != nil {
		t.Fatalf("sweep plan: %v\n%s", err, stderr)
	}
	manifest, stderr, err := runCLI(t, "sweep", "launch", dir, "--backend", "k8s", "--dry-run", "--image", "wb:test", "--pvc", "sweeps", "--mount", dir)
	if err != nil {
		t.Fatalf("k8s dry run: %v\n%s", err, stderr)
	}
	var job struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Command []string `json:"command"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(manifest), &job); err != nil || len(job.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("manifest: %v\n%s", err, manifest)
	}
	command := job.Spec.Template.Spec.Containers[0].Command
	if command[0] != "workbench" {
		t.Errorf("container command %q, want the image's workbench", command)
	}
	cmd := exec.Command(exe, command[1:]...)
	cmd.Env = append(os.Environ(), "JOB_COMPLETION_INDEX=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%q with JOB_COMPLETION_INDEX=1: %v\n%s", command, err, out)
	}
	status, _, err := runCLI(t, "sweep", "status", dir)
	if err != nil || !strings.HasPrefix(status, "1 done, 0 running, 0 failed, 1 pending\n") || !strings.Contains(status, "   1  ") {
		t.Fatalf("status: %v\n%s", err, status)
	}
	p, _ := sweep.ReadPlan(dir)
	if _, _, err := sweep.Status(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sweep.RunDir(dir, p.Tasks[0].ID)); !os.IsNotExist(err) {
		t.Errorf("task 0's run folder exists (%v): the index was not 1", err)
	}
	if _, _, err := runCLI(t, "sweep", "launch", dir, "--backend", "k8s", "--jobs", "2", "--image", "i", "--pvc", "p"); err == nil || !strings.Contains(err.Error(), "k8s backend has no --jobs") {
		t.Errorf("--jobs with k8s: %v, want a refusal naming it", err)
	}
}

// TestSweepRunTaskResumes interrupts a task's process (SIGINT, as Ctrl-C
// or Slurm's time limit) once it has a checkpoint, checks the task is
// pending, runs it again (it resumes: the log shows --resume) and checks
// the result equals an uninterrupted training run's.
func TestSweepRunTaskResumes(t *testing.T) {
	exe := asWorkbench(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	spec := filepath.Join(t.TempDir(), "spec.json")
	flags := `{"d-vocab": 16, "seq-len": 6, "min-repeat": 3, "d-model": 32, "n-heads": 2, "d-head": 16, "batch": 32, "lr": 0.003, "eval-every": 100, "steps": 3000}`
	if err := os.WriteFile(spec, []byte(`{"command": "train induction", "flags": `+flags+`, "grid": {"seed": [7]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runCLI(t, "sweep", "plan", spec, "--out", dir); err != nil {
		t.Fatalf("sweep plan: %v\n%s", err, stderr)
	}
	p, err := sweep.ReadPlan(dir)
	if err != nil {
		t.Fatal(err)
	}
	rd := sweep.RunDir(dir, p.Tasks[0].ID)
	cmd := exec.Command(exe, "sweep", "run-task", dir, "--index", "0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		steps, _ := train.Checkpoints(rd)
		if len(steps) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no checkpoint after a minute:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err == nil || !strings.Contains(out.String(), "interrupted") {
		t.Fatalf("interrupted run-task: %v, want an error saying interrupted:\n%s", err, out.String())
	}
	status, _, _ := runCLI(t, "sweep", "status", dir)
	if !strings.HasPrefix(status, "0 done, 0 running, 0 failed, 1 pending\n") {
		t.Fatalf("status after the interrupt:\n%s", status)
	}
	if out, stderr, err := runCLI(t, "sweep", "run-task", dir, "--id", p.Tasks[0].ID); err != nil {
		t.Fatalf("second run-task: %v\n%s%s", err, out, stderr)
	}
	log, _ := os.ReadFile(filepath.Join(sweep.TaskDir(dir, p.Tasks[0].ID), sweep.LogFile))
	if !strings.Contains(string(log), "--resume") || !strings.Contains(string(log), "== interrupted") {
		t.Errorf("task log shows no interrupt and resume:\n%s", log)
	}
	direct := filepath.Join(t.TempDir(), "direct")
	var args []string
	var fm map[string]any
	json.Unmarshal([]byte(flags), &fm)
	for k, v := range fm {
		args = append(args, "--"+k, fmt.Sprint(v))
	}
	if _, _, err := runCLI(t, append([]string{"train", "induction", "--out", direct, "--seed", "7"}, args...)...); err != nil {
		t.Fatal(err)
	}
	sameRun(t, rd, direct)
}
