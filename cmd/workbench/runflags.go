package main

import (
	"errors"
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
		fmt.Fprintln(stderr, strings.TrimRight(usage, "\n"))
		fmt.Fprintln(stderr)
		c.fs.PrintDefaults()
	}
	return c
}

// parse parses args and checks that there is no positional argument and
// that --out was given.
func (c *runCommand) parse(args []string) error {
	if err := c.fs.Parse(args); err != nil {
		return err
	}
	if c.fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", c.name, c.fs.Arg(0))
	}
	if c.out == "" {
		c.fs.Usage()
		return errors.New(c.name + ": --out is required")
	}
	return nil
}
