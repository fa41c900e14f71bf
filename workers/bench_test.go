package workers

import (
	"fmt"
	"testing"
)

// BenchmarkRun times one Run of trivial tasks: the pool's dispatch cost per
// training step (a transformer or CNN step runs one Run of its shards).
func BenchmarkRun(b *testing.B) {
	for _, s := range []struct{ workers, tasks int }{{1, 2}, {2, 2}, {2, 8}} {
		b.Run(fmt.Sprintf("workers=%d/tasks=%d", s.workers, s.tasks), func(b *testing.B) {
			p := New(s.workers)
			defer p.Close()
			sink := make([]int, s.tasks)
			task := func(_, i int) { sink[i]++ }
			b.ReportAllocs()
			for b.Loop() {
				p.Run(s.tasks, task)
			}
		})
	}
}
