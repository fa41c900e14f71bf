package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/transformer"
)

func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	var opts transformer.GenerateOptions
	var tf textFlags
	tf.register(fs)
	var in tokenInput
	in.register(fs, "tokens", "JSON `FILE` holding an array of prompts, token sequences that may differ in length", "text")
	fs.IntVar(&opts.MaxNew, "max-new", 0, "new tokens per prompt (required; a prompt plus them must fit n_ctx)")
	fs.Float64Var(&opts.Temperature, "temperature", 0, "sampling temperature; 0 is greedy decoding")
	fs.IntVar(&opts.TopK, "top-k", 0, "sample from the `K` most likely tokens only (0: all); needs --temperature > 0")
	fs.Float64Var(&opts.TopP, "top-p", 0, "sample from the nucleus of probability `P` in (0, 1) (0 or 1: all); needs --temperature > 0")
	fs.Uint64Var(&opts.Seed, "seed", 0, "random seed of the sampling (prompt i uses stream i)")
	fs.Func("eos", "end-of-sequence token `ID`: a sequence stops after it (repeat the flag for several)", func(s string) error {
		id, err := strconv.ParseInt(s, 10, 32)
		if err != nil || id < 0 {
			return fmt.Errorf("%q is not a token id", s)
		}
		opts.EOS = append(opts.EOS, int32(id))
		return nil
	})
	fs.IntVar(&opts.Workers, "workers", runtime.GOMAXPROCS(0), "goroutines sharing each matrix product of a decoding step")
	asJSON := fs.Bool("json", false, `print {"tokens": [[...], ...]}: the new tokens of each prompt`)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: workbench generate --model FILE|DIR [--config FILE] (--tokens FILE | --text S | --text-file F) --max-new N")
		fmt.Fprintln(w, "         [--temperature T] [--top-k K] [--top-p P] [--seed S] [--eos ID] [--workers N] [--json]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Continues each prompt by up to --max-new tokens with a key-value cache. Prompts of")
		fmt.Fprintln(w, "different lengths are generated together, each exactly as it would be alone. A")
		fmt.Fprintln(w, "prompt whose length plus --max-new exceeds the model's n_ctx is refused. A text prompt")
		fmt.Fprintln(w, "is encoded with the model's tokenizer (--bos says whether a BOS is prepended; w")
		fmt.Fprintln(w, "reports it) and the continuation is printed as text.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("generate: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["max-new"] {
		return errors.New("generate: --max-new is required")
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	v, err := tf.load("generate", mf.model, m, stderr)
	if err != nil {
		return err
	}
	src, text, err := v.open(fs, &in)
	if err != nil {
		return err
	}
	defer src.Close()
	var prompts [][]int
	if text != nil {
		prompts = [][]int{text.ids}
	} else {
		r := src.(*tokenReader)
		r.ragged = true
		if prompts, err = r.all(maxHeldTokens); err != nil {
			return err
		}
	}
	if err := checkMemory(fmt.Sprintf("generate: %d prompts", len(prompts)), generateBytes(m.Cfg, prompts, opts.MaxNew),
		"give fewer or shorter prompts, or a smaller --max-new"); err != nil {
		return err
	}
	ids := make([][]int32, len(prompts))
	for i, p := range prompts {
		ids[i] = make([]int32, len(p))
		for j, t := range p {
			ids[i][j] = int32(t) // the reader keeps ids in int32
		}
	}
	out, err := m.Generate(ctx, ids, opts)
	if err != nil {
		return err // "transformer: generate: …"
	}
	w := bufio.NewWriter(stdout)
	if *asJSON {
		b, err := json.Marshal(struct {
			Tokens [][]int32 `json:"tokens"`
		}{out})
		if err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		w.Write(append(b, '\n'))
		return w.Flush()
	}
	for i, seq := range out {
		ids := make([]string, len(seq))
		for j, t := range seq {
			ids[j] = strconv.Itoa(int(t))
		}
		fmt.Fprintf(w, "prompt %d (%d tokens): %d new: %s\n", i, len(prompts[i]), len(seq), strings.Join(ids, " "))
		if v.known() { // the prompt and its continuation as text
			all := append([]int(nil), prompts[i]...)
			for _, t := range seq {
				all = append(all, int(t))
			}
			s, err := v.tok.Decode(all)
			if err != nil {
				return fmt.Errorf("generate: decoding the new tokens: %w", err)
			}
			fmt.Fprintf(w, "text: %s\n", s)
		}
	}
	return w.Flush()
}

// generateBytes estimates Generate's memory: the key-value cache of every
// prompt (float32 keys and values per layer for its length plus maxNew),
// the prefill forward pass of the longest prompt, a decoding step's
// activations for every prompt, and for tied embeddings the transposed
// unembedding. In float64 so that absurd sizes do not overflow.
func generateBytes(c transformer.Config, prompts [][]int, maxNew int) float64 {
	kv := float64(2 * c.NLayers * c.NKeyValueHeads * c.DHead)
	longest, positions := 1, 0.0
	for _, p := range prompts {
		longest = max(longest, len(p))
		positions += float64(len(p) + max(maxNew, 0))
	}
	step := float64(len(prompts)) * float64(c.DVocabOut+3*c.DMLP+8*c.DModel+4*c.NHeads*c.DHead)
	est := 4*(kv*positions+step) + forwardBytes(c, 1, min(longest, c.NCtx))
	if c.TiedEmbeddings {
		est += 4 * float64(c.DVocab) * float64(c.DModel)
	}
	return est
}
