package workers

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunEachTaskOnce checks that Run calls every task exactly once, with
// worker numbers in [0, workers), over many calls on one pool.
func TestRunEachTaskOnce(t *testing.T) {
	for _, workers := range []int{1, 2, 3, 8} {
		p := New(workers)
		for _, n := range []int{0, 1, 2, 5, 100} {
			counts := make([]atomic.Int32, n)
			var badWorker atomic.Int32
			p.Run(n, func(w, i int) {
				counts[i].Add(1)
				if w < 0 || w >= workers {
					badWorker.Store(int32(w) + 1)
				}
			})
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Errorf("workers %d, n %d: task %d ran %d times, want 1", workers, n, i, c)
				}
			}
			if w := badWorker.Load(); w != 0 {
				t.Errorf("workers %d, n %d: worker number %d outside [0, %d)", workers, n, w-1, workers)
			}
		}
		p.Close()
	}
}

// TestRunIsConcurrent checks that a pool of two runs two tasks at once:
// each task waits for the other to start, which only two goroutines can do.
func TestRunIsConcurrent(t *testing.T) {
	p := New(2)
	defer p.Close()
	var started sync.WaitGroup
	started.Add(2)
	both := make(chan struct{})
	go func() { started.Wait(); close(both) }()
	timedOut := atomic.Bool{}
	p.Run(2, func(_, _ int) {
		started.Done()
		select {
		case <-both:
		case <-time.After(10 * time.Second):
			timedOut.Store(true)
		}
	})
	if timedOut.Load() {
		t.Fatal("the two tasks of a two-worker pool never ran at the same time")
	}
}

// TestNoGoroutineLeft checks that Close, For and ForErr leave no goroutine
// behind.
func TestNoGoroutineLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	p := New(4)
	p.Run(10, func(_, _ int) {})
	p.Close()
	For(3, 10, func(_, _ int) {})
	_ = ForErr(context.Background(), 3, 10, func(context.Context, int) error { return errors.New("x") })
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > before {
		t.Errorf("%d goroutines after the pools stopped, %d before", got, before)
	}
}

// TestRunAllocatesNothing checks the hot-path promise: Run with a func
// value made once allocates nothing.
func TestRunAllocatesNothing(t *testing.T) {
	p := New(2)
	defer p.Close()
	sink := make([]int, 16)
	task := func(_, i int) { sink[i]++ }
	if a := testing.AllocsPerRun(100, func() { p.Run(len(sink), task) }); a != 0 {
		t.Errorf("Run allocated %v times per call, want 0", a)
	}
}

// TestForErrStops checks that ForErr returns the first error, runs no task
// after it (on one worker, in order), and returns ctx's cancellation.
func TestForErrStops(t *testing.T) {
	boom := errors.New("boom")
	var ran []int
	err := ForErr(context.Background(), 1, 10, func(_ context.Context, i int) error {
		ran = append(ran, i)
		if i == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("error %v, want boom", err)
	}
	if len(ran) != 4 {
		t.Errorf("ran tasks %v, want 0 to 3 and none after the error", ran)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	if err := ForErr(ctx, 2, 10, func(context.Context, int) error { calls++; return nil }); !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("cancelled ctx: error %v after %d tasks, want context.Canceled after 0", err, calls)
	}
	if err := ForErr(context.Background(), 2, 10, func(context.Context, int) error { return nil }); err != nil {
		t.Errorf("no failing task: error %v", err)
	}
}
