package sweep

import (
	"strings"
	"testing"
)

func TestSlurmScript(t *testing.T) {
	o := SlurmOptions{Workbench: "/opt/wb", CPUs: 2, PerJob: 3, Throttle: 4, Partition: "short", Time: "1:00:00", Mem: "2G", Extra: []string{"--qos=low"}}
	s, err := SlurmScript("/scratch/sw", 7, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#!/bin/bash\n", "#SBATCH --array=0-2%4\n", "#SBATCH --cpus-per-task=2\n", "#SBATCH --partition=short\n",
		"#SBATCH --time=1:00:00\n", "#SBATCH --mem=2G\n", "#SBATCH --qos=low\n", "#SBATCH --output=/scratch/sw/slurm/%A_%a.out\n",
		"workbench='/opt/wb'\n", "dir='/scratch/sw'\n", "per=3\n", "n=7\n",
		`"$workbench" sweep run-task "$dir" --index "$i"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	o.Throttle, o.PerJob = 0, 1
	if s, _ := SlurmScript("/d", 7, o); !strings.Contains(s, "#SBATCH --array=0-6\n") {
		t.Errorf("no throttle, one task per element: want --array=0-6:\n%s", s)
	}
	for _, c := range []struct {
		dir  string
		o    SlurmOptions
		want string
	}{
		{"/my sweep", SlurmOptions{Workbench: "/wb", CPUs: 1, PerJob: 1}, "white space"},
		{"/d", SlurmOptions{Workbench: "/wb", CPUs: 1, PerJob: 1, Extra: []string{"--qos=low\n#SBATCH --x"}}, "white space"},
		{"/d", SlurmOptions{Workbench: "/wb", CPUs: 1, PerJob: 1, Extra: []string{"qos=low"}}, "want an sbatch option"},
		{"/d", SlurmOptions{Workbench: "/wb", CPUs: 1, PerJob: 0}, "at least 1"},
		{"/d", SlurmOptions{Workbench: "/w'b", CPUs: 1, PerJob: 1}, "quotes"},
	} {
		if _, err := SlurmScript(c.dir, 3, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("SlurmScript(%q, %+v) = %v, want an error containing %q", c.dir, c.o, err, c.want)
		}
	}
}
