package report

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
)

// Options are the settings every notebook shares, set by its flags.
type Options struct {
	// Name is the notebook's directory name, e.g. "01-induction-heads".
	Name string
	// Out is the directory the report is written to; it is created if
	// absent. The default is out/NAME.
	Out string
	// Quick selects small sizes that run in seconds: the mode tests use.
	Quick bool
	// Seed seeds every random number generator of the notebook.
	Seed uint64
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Logf writes one progress line to o.Log, if set.
func (o Options) Logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// ParseFlags parses a notebook's command line (-out DIR, -quick, -seed N)
// into Options for the notebook name. It returns flag.ErrHelp for -h.
func ParseFlags(name string, args []string, stderr io.Writer) (Options, error) {
	o := Options{Name: name, Log: stderr}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Out, "out", filepath.Join("out", name), "directory to write index.html and results.json to")
	fs.BoolVar(&o.Quick, "quick", false, "small sizes that run in seconds (what the tests run)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of every random number generator")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./notebooks/%s [-out DIR] [-quick] [-seed N]\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	if fs.NArg() > 0 {
		return Options{}, fmt.Errorf("%s: unexpected arguments %q", name, fs.Args())
	}
	return o, nil
}

// Main runs a notebook from its command line: it parses args with
// ParseFlags, cancels ctx on an interrupt, calls run and prints where the
// report is. It returns run's error; -h returns nil after the usage.
func Main(ctx context.Context, name string, args []string, run func(context.Context, Options) error) error {
	o, err := ParseFlags(name, args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	abs, err := filepath.Abs(filepath.Join(o.Out, "index.html"))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "wrote file://%s\n", filepath.ToSlash(abs))
	return nil
}
