package data

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRepeatedPositionsTask checks RepeatedPositions against the induction
// task's own loss mask: with distinct tokens they are the same positions.
func TestRepeatedPositionsTask(t *testing.T) {
	for _, task := range []Induction{
		{Vocab: 64, L: 20, MinRepeat: 10, Distinct: true},
		{Vocab: 64, L: 20, MinRepeat: 10, Distinct: true, BOS: true},
		{Vocab: 30, L: 8, MinRepeat: 2, Distinct: true},
	} {
		for _, fill := range []func(*Batch, *rand.Rand){task.FillFixed, task.Fill} {
			b, err := task.set(32, 5, fill)
			if err != nil {
				t.Fatal(err)
			}
			for i, row := range b.Rows() {
				_, _, w := b.Seq(i)
				want := make([]bool, len(w))
				for p, x := range w {
					want[p] = x != 0
				}
				if got := RepeatedPositions(row); !slices.Equal(got, want) {
					t.Errorf("task %+v sequence %d %v: got %v, want the task's weights %v", task, i, row, got, want)
				}
			}
		}
	}
}

func TestRepeatedPositions(t *testing.T) {
	for _, tc := range []struct {
		tokens []int
		want   []bool
	}{
		{nil, []bool{}},
		{[]int{7}, []bool{false}},
		{[]int{1, 2, 3, 1, 2, 3}, []bool{false, false, false, true, true, false}},
		{[]int{5, 5, 5}, []bool{false, true, false}},
		{[]int{1, 2, 1, 9}, []bool{false, false, true, false}},
	} {
		if got := RepeatedPositions(tc.tokens); !slices.Equal(got, tc.want) {
			t.Errorf("RepeatedPositions(%v) = %v, want %v", tc.tokens, got, tc.want)
		}
	}
}
