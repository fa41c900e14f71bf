package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mechinterp/workbench/sweep"
	"github.com/mechinterp/workbench/sweep/report"
)

// runSweep is `workbench sweep`: plan a sweep of training runs, run its
// tasks (one contract, run-task, whatever backend), launch them, and read
// their state.
func runSweep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"plan": runSweepPlan, "run-task": runSweepTask, "status": runSweepStatus, "launch": runSweepLaunch,
		"report": runSweepReport,
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		fmt.Fprintln(w, `Usage: workbench sweep <plan|run-task|launch|status> ...

  plan SPEC --out DIR              resolve a JSON spec into tasks: DIR/plan.json
  run-task DIR --index N | --id ID run one task (idempotent; what every backend calls)
  launch DIR [--backend local|slurm|k8s] [flags]
                                   run the tasks on this machine, a Slurm array, or
                                   write a Kubernetes Indexed Job
  status DIR                       counts and per-task state, from the task folders
  report DIR                       statistics, a table and figures across done tasks:
                                   DIR/report/index.html (+ PNG and SVG)

Run 'workbench sweep <subcommand> -h' for its flags.`)
		if len(args) == 0 {
			return errors.New("sweep: name a subcommand")
		}
		return nil
	}
	f, ok := sub[args[0]]
	if !ok {
		return fmt.Errorf("sweep: unknown subcommand %q (try plan, run-task, launch, status or report)%s", args[0], didYouMean(args[0], slices.Sorted(maps.Keys(sub))))
	}
	return f(ctx, args[1:], stdout, stderr)
}

// sweepFlags parses args of `sweep NAME` into fs, which takes one
// positional argument (the spec or the sweep folder) before or among its
// flags, and returns it.
func sweepFlags(fs *flag.FlagSet, name, what string, args []string, stdout io.Writer) (string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args, stdout); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("sweep %s: want one %s, got %d arguments; 'workbench sweep %s -h' shows how", name, what, len(pos), name)
	}
	return pos[0], nil
}

func newSweepFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sweep "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, usage)
		fs.PrintDefaults()
	}
	return fs
}

func runSweepPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newSweepFlagSet("plan", `Usage: workbench sweep plan SPEC --out DIR

Resolves a JSON spec into tasks, each with a deterministic ID (a hash of its
resolved flags) and a run folder DIR/runs/ID, and writes DIR/plan.json. Every
task's flags are checked by the training command itself. Spec example:

  {"command": "train induction", "flags": {"steps": 400}, "grid": {"seed": [0, 1, 2, 3]},
   "random": {"lr": {"log_uniform": [1e-4, 1e-2]}}, "samples": 8, "analyses": ["analyze"]}

Random axes: uniform, log_uniform, int_uniform ([low, high]) or choice ([values]);
"random_seed" seeds the draws (default 0).
`, stderr)
	out := fs.String("out", "", "sweep `DIR` (required)")
	specPath, err := sweepFlags(fs, "plan", "spec file", args, stdout)
	if err != nil {
		return err
	}
	if *out == "" {
		return errors.New("sweep plan: --out is required")
	}
	b, err := os.ReadFile(specPath)
	if err != nil {
		return fmt.Errorf("sweep plan: %w", err)
	}
	spec, err := sweep.ParseSpec(b)
	if err != nil {
		return err
	}
	p, err := sweep.NewPlan(ctx, spec, run)
	if err != nil {
		return err
	}
	if err := sweep.WritePlan(*out, p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "planned %d tasks in %s\n", len(p.Tasks), filepath.Join(*out, sweep.PlanFile))
	return nil
}

// jobIndexEnv is the variable a Kubernetes Indexed Job sets to the pod's
// index: run-task reads it when neither --index nor --id is given.
const jobIndexEnv = "JOB_COMPLETION_INDEX"

func runSweepTask(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newSweepFlagSet("run-task", `Usage: workbench sweep run-task DIR --index N | --id ID

Runs one task of the sweep in DIR: skipped when done, resumed from its newest
checkpoint when interrupted, its folder locked while it runs. Without --index
and --id the index is read from `+jobIndexEnv+` (Kubernetes Indexed Jobs).
`, stderr)
	index := fs.Int("index", -1, "task index `N` (0-based, as in plan.json)")
	id := fs.String("id", "", "task `ID`")
	dir, err := sweepFlags(fs, "run-task", "sweep folder", args, stdout)
	if err != nil {
		return err
	}
	p, err := sweep.ReadPlan(dir)
	if err != nil {
		return err
	}
	var t sweep.Task
	switch {
	case *index >= 0 && *id != "":
		return errors.New("sweep run-task: give --index or --id, not both")
	case *id != "":
		t, err = p.FindID(*id)
	case *index >= 0:
		t, err = p.Find(*index)
	default:
		env, ok := os.LookupEnv(jobIndexEnv)
		if !ok {
			return errors.New("sweep run-task: give --index or --id (or set " + jobIndexEnv + ")")
		}
		i, perr := strconv.Atoi(env)
		if perr != nil {
			return fmt.Errorf("sweep run-task: %s=%q is not an index", jobIndexEnv, env)
		}
		t, err = p.Find(i)
	}
	if err != nil {
		return err
	}
	done, err := sweep.RunTask(ctx, dir, p, t, run)
	if err != nil {
		return err
	}
	if done {
		fmt.Fprintf(stdout, "task %d (%s) already done\n", t.Index, t.ID)
	} else {
		fmt.Fprintf(stdout, "task %d (%s) done\n", t.Index, t.ID)
	}
	return nil
}

func runSweepStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newSweepFlagSet("status", `Usage: workbench sweep status DIR

Counts the tasks of the sweep in DIR by state (done, running, failed, pending),
then lists each task: index, ID, state and its axes. Read from the task folders,
whichever backend ran them.
`, stderr)
	dir, err := sweepFlags(fs, "status", "sweep folder", args, stdout)
	if err != nil {
		return err
	}
	_, sts, err := sweep.Status(dir)
	if err != nil {
		return err
	}
	sweep.WriteStatus(stdout, sts)
	return nil
}

func runSweepLaunch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newSweepFlagSet("launch", `Usage: workbench sweep launch DIR [--backend local|slurm|k8s] [flags]

Runs the tasks of the sweep in DIR that are not done. Every backend runs the
same command per task: workbench sweep run-task DIR --index N.

  local   a worker pool on this machine (--jobs)
  slurm   an sbatch job array (--array=0-N%K), several tasks per element with
          --tasks-per-job; --dry-run prints the script; --wait follows it
  k8s     a Kubernetes Indexed Job manifest (JOB_COMPLETION_INDEX is the task
          index), written to DIR/k8s/job.json; --dry-run prints it
`, stderr)
	backend := fs.String("backend", "local", "local, slurm or k8s")
	exe := fs.String("workbench", "", "the workbench `PROGRAM` tasks run (default: this one; on a cluster, a path every node sees)")
	jobs := fs.Int("jobs", 1, "local: tasks run at once")
	var so sweep.SlurmOptions
	fs.StringVar(&so.Partition, "partition", "", "slurm: partition")
	fs.StringVar(&so.Time, "time", "", "slurm: time limit of an array element (sbatch --time)")
	fs.StringVar(&so.Mem, "mem", "", "slurm: memory of an array element (sbatch --mem, e.g. 2G)")
	fs.IntVar(&so.CPUs, "cpus", 1, "slurm: CPUs per array element")
	fs.IntVar(&so.Throttle, "max-parallel", 0, "slurm: array elements running at once (the K of %K; 0: no limit)")
	fs.IntVar(&so.PerJob, "tasks-per-job", 1, "slurm: tasks each array element runs in turn (short tasks: Slurm's launch costs about 1 s)")
	fs.Func("sbatch", "slurm: an extra #SBATCH `OPTION` (repeatable), e.g. --sbatch=--qos=low", func(v string) error {
		so.Extra = append(so.Extra, v)
		return nil
	})
	var ko sweep.K8sOptions
	fs.StringVar(&ko.Image, "image", "", "k8s: container `IMAGE` with the workbench program")
	fs.StringVar(&ko.Claim, "pvc", "", "k8s: PersistentVolumeClaim `NAME` holding the sweep folder")
	fs.StringVar(&ko.MountPath, "mount", "", "k8s: where the claim is mounted in the container (default: DIR's absolute path)")
	fs.IntVar(&ko.Parallelism, "parallelism", 4, "k8s: pods running at once")
	fs.StringVar(&ko.CPU, "cpu-request", "", "k8s: CPU request of a pod (e.g. 1)")
	fs.StringVar(&ko.Memory, "mem-request", "", "k8s: memory request of a pod (e.g. 2Gi)")
	wait := fs.Bool("wait", false, "slurm: wait for the array to leave the queue, printing the counts")
	dryRun := fs.Bool("dry-run", false, "slurm, k8s: print the script or manifest instead of submitting or writing it")
	dir, err := sweepFlags(fs, "launch", "sweep folder", args, stdout)
	if err != nil {
		return err
	}
	applies := map[string][]string{
		"local": {"jobs"},
		"slurm": {"partition", "time", "mem", "cpus", "max-parallel", "tasks-per-job", "sbatch", "wait", "dry-run"},
		"k8s":   {"image", "pvc", "mount", "parallelism", "cpu-request", "mem-request", "dry-run"},
	}
	own, ok := applies[*backend]
	if !ok {
		return fmt.Errorf("sweep launch: unknown backend %q (try local, slurm or k8s)", *backend)
	}
	var wrong []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "backend" && f.Name != "workbench" && !slices.Contains(own, f.Name) {
			wrong = append(wrong, "--"+f.Name)
		}
	})
	if len(wrong) > 0 {
		return fmt.Errorf("sweep launch: the %s backend has no %s", *backend, strings.Join(wrong, ", "))
	}
	if *exe == "" && *backend == "k8s" {
		*exe = "workbench" // on the image's PATH
	} else if *exe == "" {
		if *exe, err = os.Executable(); err != nil {
			return fmt.Errorf("sweep launch: %w", err)
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return fmt.Errorf("sweep launch: %w", err)
	}
	switch *backend {
	case "k8s":
		return launchK8s(dir, ko, *exe, *dryRun, stdout)
	case "slurm":
		so.Workbench = *exe
		p, err := sweep.ReadPlan(dir)
		if err != nil {
			return err
		}
		if *dryRun {
			script, err := sweep.SlurmScript(dir, len(p.Tasks), so)
			if err != nil {
				return err
			}
			_, err = io.WriteString(stdout, script)
			return err
		}
		id, err := sweep.SubmitSlurm(ctx, dir, len(p.Tasks), so)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "submitted job array %s (%d tasks); follow it with: workbench sweep status %s\n", id, len(p.Tasks), dir)
		if !*wait {
			return nil
		}
		sts, err := sweep.WaitSlurm(ctx, dir, id, time.Second, stderr)
		if err != nil {
			return err
		}
		if c := sweep.Counts(sts); !strings.HasPrefix(c, fmt.Sprintf("%d done,", len(sts))) {
			return fmt.Errorf("sweep launch: job array %s left the queue with %s (workbench sweep status %s)", id, c, dir)
		}
		return nil
	}
	return sweep.Local(ctx, dir, sweep.LocalOptions{Workbench: *exe, Jobs: *jobs, Progress: stderr, Terminal: isTerminal(stderr)})
}

// launchK8s writes (or with dryRun prints) the Indexed Job manifest of the
// sweep in dir.
func launchK8s(dir string, o sweep.K8sOptions, exe string, dryRun bool, stdout io.Writer) error {
	p, err := sweep.ReadPlan(dir)
	if err != nil {
		return err
	}
	o.Workbench = exe
	if o.MountPath == "" {
		o.MountPath = dir
	}
	b, err := sweep.K8sJob(p, o)
	if err != nil {
		return err
	}
	if dryRun {
		_, err := stdout.Write(b)
		return err
	}
	path := filepath.Join(dir, "k8s", "job.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("sweep launch: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("sweep launch: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d indexed completions); submit it with: kubectl apply -f %s\n", path, len(p.Tasks), path)
	return nil
}

func runSweepReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newSweepFlagSet("report", `Usage: workbench sweep report DIR

Reads every done task's summary.json and writes DIR/report/index.html: statistics
of each result (for induction sweeps the phase-change step, steps to 99%, the
largest induction and previous-token scores), a table of every task's axes and
results, the phase-change step's distribution and each key result against each
numeric axis (PNG and SVG). Prints the statistics.
`, stderr)
	dir, err := sweepFlags(fs, "report", "sweep folder", args, stdout)
	if err != nil {
		return err
	}
	page, err := report.Write(dir)
	if err != nil {
		return err
	}
	_, rs, err := sweep.Results(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d tasks with results\n", len(rs))
	fmt.Fprintf(stdout, "%-24s %5s %5s %10s %10s %10s %10s %10s\n", "metric", "n", "never", "min", "q1", "median", "q3", "max")
	for _, s := range sweep.Summarize(rs) {
		fmt.Fprintf(stdout, "%-24s %5d %5d %10.4g %10.4g %10.4g %10.4g %10.4g\n", s.Metric, s.N, s.Never, s.Min, s.Quartile1, s.Median, s.Quartile3, s.Max)
	}
	fmt.Fprintf(stdout, "report: %s\n", page)
	return nil
}
