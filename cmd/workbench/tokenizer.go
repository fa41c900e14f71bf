package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mechinterp/workbench/tokenizer"
)

// maxCorpus bounds the text `tokenizer train` reads.
const maxCorpus = 1 << 30

func runTokenizer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "Usage: workbench tokenizer train [flags]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "  train  learn a byte-level BPE (GPT-2 style) on a text and write it as tokenizer.json")
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return errors.New("tokenizer: name a subcommand: train")
		}
		return nil
	}
	if args[0] == "train" {
		return runTokenizerTrain(ctx, args[1:], stdout, stderr)
	}
	usage(stderr)
	return fmt.Errorf("tokenizer: unknown subcommand %q", args[0])
}

func runTokenizerTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokenizer train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	text := fs.String("text", "", "the corpus: a text `FILE`, or a DIR whose files (all of them, recursively, in path order) are joined (required)")
	vocab := fs.Int("vocab", 0, fmt.Sprintf("vocabulary size `N`: the 256 bytes plus N-256 merges, in [256, %d] (required)", tokenizer.MaxTrainVocab))
	out := fs.String("out", "", "`DIR` to write tokenizer.json to (created if needed; required)")
	force := fs.Bool("force", false, "replace an existing DIR/tokenizer.json")
	asJSON := fs.Bool("json", false, `print {"vocab_size", "merges", "bytes", "tokens", "bytes_per_token", "seconds", "tokenizer"}`)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: workbench tokenizer train --text FILE|DIR --vocab N --out DIR [--force] [--json]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Learns a byte-level BPE as GPT-2's: GPT-2's pre-tokenizer, the 256 bytes as the first")
		fmt.Fprintln(fs.Output(), "tokens, then the most frequent adjacent pair merged, N-256 times. It writes DIR/tokenizer.json")
		fmt.Fprintln(fs.Output(), "in Hugging Face's format (as GPT-2's), which the other commands take as --tokenizer DIR.")
		fmt.Fprintln(fs.Output(), "Reports the compression on the corpus (bytes per token).")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("tokenizer train: unexpected argument %q", fs.Arg(0))
	}
	switch {
	case *text == "":
		return errors.New("tokenizer train: --text is required")
	case *out == "":
		return errors.New("tokenizer train: --out is required")
	case *vocab == 0:
		return errors.New("tokenizer train: --vocab is required")
	case *vocab < 256 || *vocab > tokenizer.MaxTrainVocab:
		return fmt.Errorf("tokenizer train: --vocab %d out of range [256, %d] (the 256 bytes plus the merges)", *vocab, tokenizer.MaxTrainVocab)
	}
	dst := filepath.Join(*out, "tokenizer.json")
	if _, err := os.Stat(dst); err == nil && !*force {
		return fmt.Errorf("tokenizer train: %s exists (--force replaces it)", dst)
	}
	corpus, err := readCorpus(*text, maxCorpus)
	if err != nil {
		return fmt.Errorf("tokenizer train: --text: %w", err)
	}
	start := time.Now()
	// the last progress report holds the corpus's length in tokens, as
	// Encode would give it (without holding every token in memory)
	var last tokenizer.TrainProgress
	opt := tokenizer.TrainOptions{ProgressEvery: max(1, (*vocab-256)/10), Progress: func(p tokenizer.TrainProgress) {
		last = p
		if !*asJSON {
			fmt.Fprintf(stderr, "tokenizer train: %d/%d merges (%d distinct words), %.1fs\n", p.Merges, p.Total, p.Words, time.Since(start).Seconds())
		}
	}}
	tok, err := tokenizer.TrainBPE(ctx, corpus, *vocab, opt)
	if err != nil {
		return fmt.Errorf("tokenizer train: %w", err)
	}
	seconds := time.Since(start).Seconds()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("tokenizer train: %w", err)
	}
	if err := tok.SaveJSON(dst); err != nil {
		return fmt.Errorf("tokenizer train: %w", err)
	}
	perToken := 0.0
	if last.Tokens > 0 {
		perToken = float64(len(corpus)) / float64(last.Tokens)
	}
	if *asJSON {
		e := json.NewEncoder(stdout)
		e.SetEscapeHTML(false)
		return e.Encode(map[string]any{
			"vocab_size": tok.VocabSize(), "merges": tok.VocabSize() - 256, "bytes": len(corpus),
			"tokens": last.Tokens, "bytes_per_token": perToken, "seconds": seconds, "tokenizer": dst,
		})
	}
	fmt.Fprintf(stdout, "%d tokens (%d merges) learned on %d bytes in %.2fs; the corpus is %d tokens, %.2f bytes per token\nwrote %s\n",
		tok.VocabSize(), tok.VocabSize()-256, len(corpus), seconds, last.Tokens, perToken, dst)
	return nil
}

// readCorpus reads a text file, or every regular file under a folder in
// path order (hidden files and folders left out), joined; at most limit
// bytes in all.
func readCorpus(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		s, err := readBounded(path, limit)
		return []byte(s), err
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != path && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no files", path)
	}
	slices.Sort(files)
	var all []byte
	for _, f := range files {
		s, err := readBounded(f, limit-int64(len(all)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w (the folder's files are read together, %d bytes at most)", path, err, limit)
		}
		all = append(all, s...)
	}
	return all, nil
}
