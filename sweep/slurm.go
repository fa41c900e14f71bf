package sweep

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// SlurmOptions configure a Slurm job array.
type SlurmOptions struct {
	// Workbench is the program every node runs tasks with (a path on a
	// shared file system).
	Workbench string
	JobName   string   // --job-name (default "workbench-sweep")
	Partition string   // --partition, if set
	Time      string   // --time (Slurm's formats: "30", "1:00:00", "1-00:00:00"), if set
	Mem       string   // --mem ("2G"), if set
	CPUs      int      // --cpus-per-task (at least 1)
	Throttle  int      // K of --array=0-N%K: array elements running at once (0: no limit)
	PerJob    int      // tasks run one after another by each array element (at least 1)
	Extra     []string // further #SBATCH lines, each an sbatch option ("--qos=low")
}

// SlurmDir is where the Slurm backend writes its script, its job ids and
// the array elements' output in a sweep folder.
const SlurmDir = "slurm"

// SlurmScript returns the sbatch script that runs the n tasks of the sweep
// in dir: an array of ceil(n / PerJob) elements, element e running tasks
// e·PerJob … e·PerJob+PerJob−1 with `sweep run-task`, and failing when any
// of them failed. Paths and options may not hold white space, quotes or
// line breaks (they are written into #SBATCH lines and the shell).
func SlurmScript(dir string, n int, o SlurmOptions) (string, error) {
	if n < 1 {
		return "", fmt.Errorf("sweep: slurm: the plan has no tasks")
	}
	if o.CPUs < 1 || o.PerJob < 1 || o.Throttle < 0 {
		return "", fmt.Errorf("sweep: slurm: --cpus %d and --tasks-per-job %d must be at least 1, --max-parallel %d at least 0", o.CPUs, o.PerJob, o.Throttle)
	}
	if o.JobName == "" {
		o.JobName = "workbench-sweep"
	}
	for _, v := range append([]string{dir, o.Workbench, o.JobName, o.Partition, o.Time, o.Mem}, o.Extra...) {
		if strings.ContainsAny(v, " \t\r\n'\"\\$`") {
			return "", fmt.Errorf("sweep: slurm: %q: white space, quotes, $, ` and \\ are not allowed in a path or sbatch option", v)
		}
	}
	for _, e := range o.Extra {
		if !strings.HasPrefix(e, "-") {
			return "", fmt.Errorf("sweep: slurm: extra #SBATCH line %q: want an sbatch option such as --qos=low", e)
		}
	}
	elems := (n + o.PerJob - 1) / o.PerJob
	array := fmt.Sprintf("0-%d", elems-1)
	if o.Throttle > 0 {
		array += "%" + strconv.Itoa(o.Throttle)
	}
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	line := func(opt string) { fmt.Fprintf(&b, "#SBATCH %s\n", opt) }
	line("--job-name=" + o.JobName)
	line("--array=" + array)
	line("--output=" + filepath.Join(dir, SlurmDir, "%A_%a.out"))
	line("--cpus-per-task=" + strconv.Itoa(o.CPUs))
	line("--ntasks=1")
	if o.Partition != "" {
		line("--partition=" + o.Partition)
	}
	if o.Time != "" {
		line("--time=" + o.Time)
	}
	if o.Mem != "" {
		line("--mem=" + o.Mem)
	}
	for _, e := range o.Extra {
		line(e)
	}
	fmt.Fprintf(&b, `
# Each array element runs tasks [first, first+per) of the plan, n in all;
# run-task skips done tasks and resumes interrupted ones.
set -u
workbench='%s'
dir='%s'
per=%d
n=%d
first=$((SLURM_ARRAY_TASK_ID * per))
status=0
for ((i = first; i < first + per && i < n; i++)); do
  "$workbench" sweep run-task "$dir" --index "$i" || status=1
done
exit $status
`, o.Workbench, dir, o.PerJob, n)
	return b.String(), nil
}

// SubmitSlurm writes the script of SlurmScript to dir/slurm/sweep.sbatch,
// submits it with sbatch and returns the job id (also appended to
// dir/slurm/jobs).
func SubmitSlurm(ctx context.Context, dir string, n int, o SlurmOptions) (string, error) {
	script, err := SlurmScript(dir, n, o)
	if err != nil {
		return "", err
	}
	sd := filepath.Join(dir, SlurmDir)
	if err := os.MkdirAll(sd, 0o755); err != nil {
		return "", fmt.Errorf("sweep: %w", err)
	}
	path := filepath.Join(sd, "sweep.sbatch")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("sweep: %w", err)
	}
	out, err := slurmCmd(ctx, "sbatch", "--parsable", path)
	if err != nil {
		return "", err
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";") // "ID" or "ID;cluster"
	if _, err := strconv.Atoi(id); err != nil {
		return "", fmt.Errorf("sweep: sbatch printed %q, not a job id", out)
	}
	f, err := os.OpenFile(filepath.Join(sd, "jobs"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return id, fmt.Errorf("sweep: %w", err)
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, id)
	return id, err
}

// slurmCmd runs a Slurm client command and returns its standard output.
func slurmCmd(ctx context.Context, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("sweep: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// WaitSlurm polls squeue every poll until job id has left the queue,
// writing the sweep's counts (from the task folders) to progress whenever
// they change, and returns the final statuses. Slurm's accounting (sacct)
// is not needed: the task folders are the source of truth.
func WaitSlurm(ctx context.Context, dir, id string, poll time.Duration, progress io.Writer) ([]TaskStatus, error) {
	last := ""
	for {
		out, err := slurmCmd(ctx, "squeue", "--noheader", "--jobs="+id, "--format=%i %T")
		if err != nil && !strings.Contains(err.Error(), "Invalid job id") {
			return nil, err
		}
		_, sts, serr := Status(dir)
		if serr != nil {
			return nil, serr
		}
		queued := strings.Count(out, "\n")
		if c := Counts(sts); c != last && progress != nil {
			fmt.Fprintf(progress, "sweep: %s (%d array elements in the queue)\n", c, queued)
			last = c
		}
		if queued == 0 {
			return sts, nil
		}
		select {
		case <-ctx.Done():
			return sts, ctx.Err()
		case <-time.After(poll):
		}
	}
}
