package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mechinterp/workbench/web"
)

// shutdownGrace bounds how long serve waits, after Ctrl-C, for requests to
// finish and trainings to save their checkpoints.
const shutdownGrace = time.Second

// runServe is `workbench serve` (and `workbench` alone): the dashboard on
// a loopback address until ctx is cancelled.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "`HOST:PORT` to listen on (port 0 picks a free one)")
	runs := fs.String("runs", web.DefaultRunsDir, "`DIR` holding run folders (each one training's output, as 'workbench train induction --out DIR/NAME' writes it) to list; \"Train one now\" writes there")
	open := fs.Bool("open", false, "open the dashboard in the default browser")
	remote := fs.Bool("allow-remote", false, "allow --addr to be a non-loopback address (the dashboard has no authentication)")
	hosts := fs.String("allowed-hosts", "", "with --allow-remote, comma-separated `HOSTS` (names or addresses) that clients may use to reach the dashboard, besides loopback and the --addr host")
	budget := fs.String("runs-budget", "4GiB", "`SIZE` the runs folder may hold (B, KiB, MiB, GiB or TiB); new trainings beyond it are refused")
	verbose := fs.Bool("v", false, "log every training and failed request to stderr")
	var models modelPaths
	fs.Var(&models, "model", "a model to offer beside the demo and the runs, with the tokenizer in its folder: a Hugging Face `FOLDER`, a TransformerLens .safetensors file or a run folder (repeatable)")
	var saes modelPaths
	fs.Var(&saes, "sae", "a sparse dictionary for the Features page, `MODEL=DIR` (DIR in SAELens's layout, MODEL a served model's name; a bare DIR: the demo) (repeatable)")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: workbench serve [--addr 127.0.0.1:8080] [--runs ./runs] [--runs-budget 4GiB] [--model M]... [--sae MODEL=DIR]... [--open]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Serves the dashboard: attention patterns, circuits, lenses, patching and live")
		fmt.Fprintln(w, "training, for the two embedded demo models (\"shakespeare\", a language model")
		fmt.Fprintln(w, "trained on tinyshakespeare with an induction head, which it opens on; \"demo\", the")
		fmt.Fprintln(w, "synthetic induction-task model) and every run in --runs, and CNN and GAN pages")
		fmt.Fprintln(w, "for the embedded Fashion-MNIST classifier and DCGAN. Ctrl-C stops it, saving a")
		fmt.Fprintln(w, "checkpoint of any training it runs.")
		fmt.Fprintln(w)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	loopback, err := isLoopback(*addr)
	if err != nil {
		return err
	}
	if !loopback && !*remote {
		return fmt.Errorf("serve: %s is not a loopback address; the dashboard has no authentication, so binding elsewhere needs --allow-remote", *addr)
	}
	budgetBytes, err := parseBytes(*budget)
	if err != nil {
		return fmt.Errorf("serve: --runs-budget: %w", err)
	}
	allowed, err := allowedHosts(*addr, *hosts, *remote)
	if err != nil {
		return err
	}
	if !loopback {
		fmt.Fprintf(stderr, "warning: serving on %s, reachable from other machines as %s; anyone who can connect can read your runs and start trainings\n", *addr, strings.Join(allowed, ", "))
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	rf, err := findRuns(*runs)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	dash, err := web.Open(web.Deps{RunsDir: rf.dir, Logger: logger, AllowedHosts: allowed, RunsBudget: budgetBytes, Models: models, SAEs: saes})
	if err != nil {
		ln.Close()
		return fmt.Errorf("serve: %w", err)
	}
	srv := &http.Server{
		Handler:           dash,
		ReadHeaderTimeout: 10 * time.Second,
		// Request bodies and responses are bounded by the dashboard's own
		// deadlines (web.Deps.BodyTimeout, RequestTimeout), not by
		// ReadTimeout, which would also end event streams and long
		// analyses; event streams clear the write deadline for themselves.
		WriteTimeout: 2 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(dash.CloseStreams)
	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(stdout, "Workbench dashboard: %s  (Ctrl-C to stop)\n%s\n", url, rf.found)
	if *open {
		if err := openBrowser(url); err != nil {
			fmt.Fprintf(stderr, "serve: could not open a browser (%v); open %s yourself\n", err, url)
		}
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	// Stop the trainings first (they checkpoint as they stop) while the
	// server stops accepting and drains; both share the one-second grace.
	stopped := make(chan error, 1)
	go func() { stopped <- dash.Shutdown(sctx) }()
	herr := srv.Shutdown(sctx)
	if errors.Is(herr, context.DeadlineExceeded) {
		srv.Close()
	}
	terr := <-stopped
	<-served // Serve has returned http.ErrServerClosed
	if terr != nil {
		return fmt.Errorf("serve: %w", terr)
	}
	fmt.Fprintln(stdout, "stopped")
	return nil
}

// modelPaths collects the repeatable --model flag.
type modelPaths []string

func (p *modelPaths) String() string { return strings.Join(*p, ",") }

func (p *modelPaths) Set(s string) error {
	if s == "" {
		return errors.New("empty path")
	}
	*p = append(*p, s)
	return nil
}

// isLoopback reports whether addr's host is a loopback address or
// "localhost". An empty host means every interface: not loopback.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("serve: --addr %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// allowedHosts returns the hosts besides loopback that the dashboard
// answers: the --addr host when it names one, and the --allowed-hosts
// list, which needs --allow-remote. Listening on every interface with
// --allow-remote needs --allowed-hosts: the dashboard cannot guess the
// names clients will use.
func allowedHosts(addr, list string, remote bool) ([]string, error) {
	var out []string
	if list != "" {
		if !remote {
			return nil, fmt.Errorf("serve: --allowed-hosts needs --allow-remote (loopback names are always allowed)")
		}
		for _, h := range strings.Split(list, ",") {
			h = strings.TrimSpace(h)
			if h == "" || strings.ContainsAny(h, "/:@ ") && net.ParseIP(strings.Trim(h, "[]")) == nil {
				return nil, fmt.Errorf("serve: --allowed-hosts %q: want host names or IP addresses without ports, separated by commas", list)
			}
			out = append(out, h)
		}
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("serve: --addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		out = append(out, host)
	} else if remote && len(out) == 0 {
		return nil, fmt.Errorf("serve: --addr %s listens on every interface: name the hosts clients will use with --allowed-hosts (the dashboard refuses requests for other hosts)", addr)
	}
	return out, nil
}

// parseBytes parses a size such as "4GiB", "512MiB" or "1000000" (bytes):
// a positive number and a binary unit.
func parseBytes(s string) (int64, error) {
	num := strings.TrimRight(s, "BKMGTPi ")
	unit := strings.TrimSpace(s[len(num):])
	mult, ok := map[string]float64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unit %q, want B, KiB, MiB, GiB or TiB", s, unit)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || !(v > 0) || v*mult >= 1<<62 {
		return 0, fmt.Errorf("size %q: want a positive number of bytes below 4 EiB, such as 4GiB", s)
	}
	return int64(v * mult), nil
}

// openBrowser asks the desktop to open url, without waiting for it.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait() // reap it; its exit status does not matter
	return nil
}
