package workers

import (
	"context"
	"sync"
	"sync/atomic"
)

// Pool is a fixed set of helper goroutines that, with the goroutine calling
// Run, run numbered tasks. Its helpers live from New to Close.
type Pool struct {
	helpers int
	work    chan struct{} // one token per helper per Run
	done    chan struct{}
	live    sync.WaitGroup // helpers alive
	busy    sync.WaitGroup // helpers working in the current Run
	next    atomic.Int64   // the next unclaimed task of the current Run
	n       int
	task    func(worker, i int)
}

// New returns a pool of workers goroutines in all: the caller of Run and
// workers−1 helpers started now (none if workers ≤ 1).
func New(workers int) *Pool {
	p := &Pool{helpers: max(workers-1, 0), done: make(chan struct{})}
	p.work = make(chan struct{}, p.helpers)
	for k := 1; k <= p.helpers; k++ {
		p.live.Go(func() {
			for {
				select {
				case <-p.done:
					return
				case <-p.work:
					p.claim(k)
					p.busy.Done()
				}
			}
		})
	}
	return p
}

// Workers returns the number of goroutines that run tasks, the caller
// included.
func (p *Pool) Workers() int { return p.helpers + 1 }

// Run calls task(worker, i) for every i in [0, n), on the calling goroutine
// (worker 0) and as many helpers as there are tasks beyond the first, and
// returns when all have finished. It allocates nothing: pass a func value
// made once (a method value stored at construction) on hot paths.
func (p *Pool) Run(n int, task func(worker, i int)) {
	if n <= 0 {
		return
	}
	p.n, p.task = n, task
	p.next.Store(0)
	helpers := min(p.helpers, n-1)
	p.busy.Add(helpers)
	for range helpers {
		p.work <- struct{}{}
	}
	p.claim(0) // the caller works too
	p.busy.Wait()
	p.task = nil
}

// claim runs unclaimed tasks of the current Run as worker until none is
// left.
func (p *Pool) claim(worker int) {
	for {
		i := int(p.next.Add(1)) - 1
		if i >= p.n {
			return
		}
		p.task(worker, i)
	}
}

// Close stops the helpers and waits for them to exit. The pool cannot be
// used afterwards.
func (p *Pool) Close() {
	close(p.done)
	p.live.Wait()
}

// For calls task(worker, i) for every i in [0, n) on at most workers
// goroutines (the caller among them) and returns when all have finished,
// with every goroutine it started gone.
func For(workers, n int, task func(worker, i int)) {
	p := New(min(workers, n))
	defer p.Close()
	p.Run(n, task)
}

// ForErr calls task(ctx, i) for every i in [0, n) on at most workers
// goroutines, as For. The first error a task returns, or ctx's
// cancellation, stops the tasks not yet started and is returned; the ctx a
// task receives is cancelled then too.
func ForErr(ctx context.Context, workers, n int, task func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	For(workers, n, func(_, i int) {
		if ctx.Err() != nil {
			return
		}
		if err := task(ctx, i); err != nil {
			cancel(err)
		}
	})
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}
