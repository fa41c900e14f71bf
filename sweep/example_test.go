package sweep_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/mechinterp/workbench/sweep"
)

// A spec crossed into tasks. The Runner stands in for the CLI: planning
// only asks it to parse each task's flags (it sees "-h" last).
func ExampleNewPlan() {
	spec, err := sweep.ParseSpec([]byte(`{"command": "train induction", "flags": {"steps": 400},
		"grid": {"seed": [0, 1], "n-heads": [2, 4]}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	parseOnly := func(_ context.Context, args []string, _, _ io.Writer) error { return flag.ErrHelp }
	p, err := sweep.NewPlan(context.Background(), spec, parseOnly)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range p.Tasks {
		fmt.Println(t.Index, strings.Join(t.Args, " "))
	}
	// Output:
	// 0 train induction --n-heads=2 --seed=0 --steps=400
	// 1 train induction --n-heads=2 --seed=1 --steps=400
	// 2 train induction --n-heads=4 --seed=0 --steps=400
	// 3 train induction --n-heads=4 --seed=1 --steps=400
}
