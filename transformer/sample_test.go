package transformer

import (
	"context"
	"math/rand/v2"
	"testing"
)

func TestGenerate(t *testing.T) {
	m, _ := New(variants()["attn_only"])
	randomize(m, 20)
	ctx := context.Background()
	greedy, err := m.Generate(ctx, []int{1, 2, 3}, 4, SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(greedy) != 7 {
		t.Fatalf("got %d tokens, want 7", len(greedy))
	}
	// Greedy: each new token is the argmax of the model's logits.
	for i := 3; i < 7; i++ {
		logits, _ := m.Run(ctx, [][]int{greedy[:i]}, nil)
		V := logits.Dim(-1)
		row := logits.Data[(i-1)*V : i*V]
		best := 0
		for j := range row {
			if row[j] > row[best] {
				best = j
			}
		}
		if greedy[i] != best {
			t.Errorf("token %d = %d, argmax %d", i, greedy[i], best)
		}
	}
	// Top-1 sampling at any temperature is greedy; seeded sampling repeats.
	top1, err := m.Generate(ctx, []int{1, 2, 3}, 4, SampleOptions{Temperature: 2, TopK: 1, Rand: rand.New(rand.NewPCG(1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	for i := range greedy {
		if top1[i] != greedy[i] {
			t.Fatalf("top-1 sample %v differs from greedy %v", top1, greedy)
		}
	}
	s1, _ := m.Generate(ctx, []int{0}, 6, SampleOptions{Temperature: 1, Rand: rand.New(rand.NewPCG(3, 3))})
	s2, _ := m.Generate(ctx, []int{0}, 6, SampleOptions{Temperature: 1, Rand: rand.New(rand.NewPCG(3, 3))})
	for i := range s1 {
		if s1[i] != s2[i] {
			t.Fatal("seeded sampling is not reproducible")
		}
	}
	for _, bad := range []struct {
		prompt []int
		n      int
		opt    SampleOptions
	}{
		{[]int{1}, 9, SampleOptions{}},
		{[]int{1}, -1, SampleOptions{}},
		{[]int{1}, 1, SampleOptions{Temperature: 1}},
		{[]int{1}, 1, SampleOptions{Temperature: -1}},
		{[]int{99}, 1, SampleOptions{}},
	} {
		if _, err := m.Generate(ctx, bad.prompt, bad.n, bad.opt); err == nil {
			t.Errorf("Generate(%v, %d, %+v) succeeded", bad.prompt, bad.n, bad.opt)
		}
	}
}
