// Package sweep plans and runs sweeps of training runs: a spec names a
// training command of the CLI (`train induction`, `train cnn`, …), its
// base flags, grid axes and random axes; a plan resolves it into tasks,
// each with a deterministic ID (a hash of its resolved configuration) and
// its own run folder. One contract runs a task, whatever engine schedules
// it: `workbench sweep run-task DIR --index N`. Backends only decide where
// and when that command runs: a local worker pool (Local), a Slurm job
// array (SlurmScript), a Kubernetes Indexed Job (K8sJob).
//
// # Sweep directory
//
//	DIR/plan.json              the spec and its resolved tasks (Plan)
//	DIR/runs/ID/               each task's run folder (the command's --out)
//	DIR/tasks/ID/.lock         held locked while the task runs
//	DIR/tasks/ID/log.txt       the task's output, appended at every attempt
//	DIR/tasks/ID/done.json     written when the task and its analyses finished
//	DIR/tasks/ID/failed.json   written when the last attempt failed
//
// The task folders are the source of truth for a task's state (Status),
// whichever backend ran it. A task is idempotent: a done task is skipped,
// an interrupted one resumes from its newest checkpoint (the training
// command's --resume), and since training is deterministic any backend
// produces the same checkpoints and metrics.
//
// sweep never imports a model package: it runs the CLI's commands through
// a Runner, the CLI's own entry point, passed in by the caller. Its
// functions are safe for concurrent use; they keep no state.
package sweep
