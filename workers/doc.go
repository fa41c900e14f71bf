// Package workers is Workbench's one worker pool: a fixed set of goroutines
// that, together with the calling goroutine, run the numbered tasks of one
// call, handing out task numbers in increasing order. Models use a
// persistent Pool for their data-parallel training steps (one worker per
// core, each with its own activation arena); analyses use For and ForErr,
// which start a pool for one call and stop it before returning.
//
// Worker numbers are stable: the caller is worker 0 and helper k is worker
// k for the pool's life, so a task may index per-worker scratch space by
// its worker number. Which worker runs which task is not fixed; callers
// that need bit-identical results whatever the worker count (the training
// steps) make each task's result independent of its worker and reduce in
// task order.
//
// A Pool runs one call at a time: Run is not safe for concurrent use. Every
// helper goroutine exits before Close returns; For and ForErr leave no
// goroutine behind. The package imports only the standard library.
package workers
