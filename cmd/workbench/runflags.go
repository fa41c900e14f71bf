package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
)

// runCommand is what every training command shares: a flag set with the
// --out, --resume and --json flags, a usage text, and the checks after
// parsing (no positional arguments, --out given).
type runCommand struct {
	name   string // "train cnn"
	fs     *flag.FlagSet
	out    string
	resume bool
	json   bool
}

// newRunCommand returns the flag set of the training command name. outHelp
// describes the run directory; usage is printed above the flag defaults
// (lines, no trailing newline needed).
func newRunCommand(name, outHelp, usage string, stderr io.Writer) *runCommand {
	c := &runCommand{name: name, fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.fs.SetOutput(stderr)
	c.fs.StringVar(&c.out, "out", "", outHelp)
	c.fs.BoolVar(&c.resume, "resume", false, "continue the run in --out from its newest checkpoint")
	c.fs.BoolVar(&c.json, "json", false, "print one JSON summary at the end")
	c.fs.Usage = func() {
		w := c.fs.Output()
		fmt.Fprintln(w, strings.TrimRight(usage, "\n"))
		fmt.Fprintln(w)
		c.fs.PrintDefaults()
	}
	return c
}

// parse parses args and checks that there is no positional argument and
// that --out was given.
func (c *runCommand) parse(args []string) error {
	if err := parseFlags(c.fs, args, c.fs.Output()); err != nil {
		return err
	}
	if c.fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", c.name, c.fs.Arg(0))
	}
	if c.out == "" {
		return fmt.Errorf("%s: --out is required (the run folder DIR); 'workbench %s -h' lists the flags", c.name, c.name)
	}
	return nil
}

// interrupted is the error of a training run that a signal stopped after
// step (its checkpoint saved): it says how to resume, and it wraps
// context.Canceled, so that main exits with status 130.
func (c *runCommand) interrupted(step int) error {
	return &interruptedError{name: c.name, out: c.out, step: step}
}

// interruptedError is what runCommand.interrupted returns.
type interruptedError struct {
	name, out string
	step      int
}

func (e *interruptedError) Error() string {
	return fmt.Sprintf("%s: interrupted at step %d, checkpoint saved; resume with: workbench %s --out %s --resume",
		e.name, e.step, e.name, e.out)
}

func (e *interruptedError) Unwrap() error { return context.Canceled }

// helpAsked reports whether args hold -h, -help or --help before a "--":
// the flag package then prints the usage and does nothing else.
func helpAsked(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// finish ends a training command the same way for every trainer: a note
// when the run had already reached --steps, the result as indented JSON
// (--json) or by print, and the interrupted error (exit 130, with the
// resume command) when Ctrl-C stopped it.
func (c *runCommand) finish(stdout, stderr io.Writer, already, interrupted bool, steps int, result any, print func()) error {
	if already {
		fmt.Fprintf(stderr, "%s already finished at step %d: nothing to do (raise --steps to continue it)\n", c.out, steps)
	}
	if c.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(result); err != nil {
			return err
		}
	} else {
		print()
	}
	if interrupted {
		return c.interrupted(steps)
	}
	return nil
}
