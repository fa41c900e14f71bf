package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// parseFlags parses args into fs the way every subcommand does. -h, -help
// and --help print fs's usage on stdout and return flag.ErrHelp (main
// exits 0 on it). A bad flag returns one error that names it, suggests the
// nearest defined flag when it looks like a typo, and points at -h, with
// nothing else printed: the flag package's own message and the full usage
// around it are not shown.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(out)
		return flag.ErrHelp
	}
	return flagError(fs, err)
}

// flagError rewrites an error of fs.Parse for a person: "eval: unknown flag
// --modle (did you mean --model?); 'workbench eval -h' lists the flags".
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	hint := fmt.Sprintf("'workbench %s -h' lists the flags", fs.Name())
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		if s := suggest(name, names); s != "" {
			return fmt.Errorf("%s: unknown flag --%s (did you mean --%s?); %s", fs.Name(), name, s, hint)
		}
		return fmt.Errorf("%s: unknown flag --%s; %s", fs.Name(), name, hint)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return fmt.Errorf("%s: flag --%s needs a value; %s", fs.Name(), strings.TrimLeft(name, "-"), hint)
	}
	// "invalid value "x" for flag -n: parse error", "bad flag syntax: ---x":
	// the flag package's words are already plain; write flags as --name.
	msg = strings.Replace(msg, "for flag -", "for flag --", 1)
	return fmt.Errorf("%s: %s; %s", fs.Name(), msg, hint)
}

// suggest returns the candidate nearest to name when it is close enough to
// be a typo of it (an edit distance of at most a third of its length, and
// at least 1; the first candidate wins a tie), or "" when none is.
func suggest(name string, candidates []string) string {
	best, bestD := "", max(1, len(name)/3)+1
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// didYouMean returns " (did you mean X?)" for the candidate suggest finds
// for name, or "".
func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// editDistance is the Damerau–Levenshtein distance (optimal string
// alignment: insertions, deletions, substitutions and transpositions of
// adjacent bytes each cost 1) between a and b.
func editDistance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
