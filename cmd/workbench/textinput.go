package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mechinterp/workbench/tokenizer"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/hf"
)

// This file is how the commands that run a model (eval, analyze, lens,
// lens train, patch) take text instead of token ids and show tokens as
// text: the --tokenizer, --bos and --special flags, the model's tokenizer,
// and one token input given as --tokens FILE, --text S or --text-file F.

// textFlags are the flags of a command's tokenizer.
type textFlags struct {
	tokenizer, bos string
	special        bool
}

func (f *textFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.tokenizer, "tokenizer", "", "tokenizer `DIR_OR_FILE`: a folder holding tokenizer.json or vocab.json + merges.txt, or the tokenizer.json itself (default: the tokenizer files in --model's folder, if any)")
	fs.BoolVar(&f.special, "special", false, "encode special-token text in text input (e.g. <|endoftext|>) as those tokens; without it, it is plain text")
	fs.StringVar(&f.bos, "bos", "auto", "BOS `POLICY` for text input: never, always, or auto (what the tokenizer's configuration says: GPT-2 none, Llama <s>)")
}

// vocab is a command's tokenizer: it encodes text input and labels tokens
// in the output. tok is nil when the model has no tokenizer files and
// --tokenizer was not given (missing says why); the command then speaks
// token ids only.
type vocab struct {
	cmd     string // the command's name, which prefixes errors and notes
	tok     *tokenizer.Tokenizer
	missing error
	opt     tokenizer.Options // of text input
	nCtx    int
	stderr  io.Writer
}

// load returns the tokenizer of cmd's model m, loaded from modelPath:
// --tokenizer's when given, else the tokenizer files in the model's folder
// (modelPath itself or, for a checkpoint file, the folder holding it). A
// tokenizer found there that fails to load is reported on stderr and left
// out, so that a command on token ids still runs; text input then fails
// with the reason.
func (f *textFlags) load(cmd, modelPath string, m *transformer.Model, stderr io.Writer) (*vocab, error) {
	bos, err := tokenizer.ParseBOS(f.bos)
	if err != nil {
		return nil, fmt.Errorf("%s: --bos: %w", cmd, err)
	}
	v := &vocab{cmd: cmd, opt: tokenizer.Options{BOS: bos, Special: f.special}, nCtx: m.Cfg.NCtx, stderr: stderr}
	if f.tokenizer != "" {
		if v.tok, err = hf.LoadTokenizer(f.tokenizer, m.Cfg); err != nil {
			return nil, fmt.Errorf("%s: --tokenizer: %w", cmd, err)
		}
		return v, nil
	}
	dir, ok, err := tokenizerBeside(modelPath)
	if err != nil {
		return nil, fmt.Errorf("%s: --model: %w", cmd, err)
	}
	if !ok {
		v.missing = noTokenizer(dir)
		return v, nil
	}
	if v.tok, err = hf.LoadTokenizer(dir, m.Cfg); err != nil {
		v.missing = fmt.Errorf("the tokenizer in %s: %w", dir, err)
		fmt.Fprintf(stderr, "%s: note: tokens are shown as ids: %v\n", cmd, v.missing)
	}
	return v, nil
}

// tokenizerBeside returns the folder of the model at modelPath (the path
// itself when it is a folder) and whether it holds tokenizer files.
func tokenizerBeside(modelPath string) (dir string, ok bool, err error) {
	st, err := os.Stat(modelPath)
	if err != nil {
		return "", false, err
	}
	dir = modelPath
	if !st.IsDir() {
		dir = filepath.Dir(modelPath)
	}
	for _, name := range []string{"tokenizer.json", "vocab.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return dir, true, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", false, err
		}
	}
	return dir, false, nil
}

// noTokenizer says that the model folder dir has no tokenizer.
func noTokenizer(dir string) error {
	return fmt.Errorf("%s holds no tokenizer files (tokenizer.json, or vocab.json + merges.txt); give --tokenizer DIR_OR_FILE", dir)
}

// tokenInput is one token input of a command: a JSON file of token
// sequences (--tokens, or patch's --clean) or a text encoded as one
// sequence (--text or --text-file, or patch's --clean-text and
// --clean-text-file).
type tokenInput struct {
	// optional says that the command runs without the input (analyze's
	// detectors, lens train's generated data); set it before open.
	optional             bool
	fileFlag, textFlag   string
	file, text, textFile string
}

// register adds the input's three flags: fileFlag (help fileHelp),
// textFlag and textFlag + "-file".
func (in *tokenInput) register(fs *flag.FlagSet, fileFlag, fileHelp, textFlag string) {
	in.fileFlag, in.textFlag = fileFlag, textFlag
	fs.StringVar(&in.file, fileFlag, "", fileHelp)
	fs.StringVar(&in.text, textFlag, "", "`TEXT` to encode with the model's tokenizer, as one sequence (instead of --"+fileFlag+")")
	fs.StringVar(&in.textFile, textFlag+"-file", "", "encode the contents of `FILE` as one sequence (instead of --"+fileFlag+")")
}

// given returns the names of the input's flags set on fs, file first.
func (in *tokenInput) given(fs *flag.FlagSet) []string {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var names []string
	for _, name := range []string{in.fileFlag, in.textFlag, in.textFlag + "-file"} {
		if set[name] {
			names = append(names, "--"+name)
		}
	}
	return names
}

// isText reports whether the input on fs is text.
func (in *tokenInput) isText(fs *flag.FlagSet) bool {
	g := in.given(fs)
	return len(g) == 1 && g[0] != "--"+in.fileFlag
}

// tokenSource yields a command's token sequences a batch at a time: a
// streamed token file (tokenReader) or the sequence of a text (textTokens).
type tokenSource interface {
	// batch reads up to n sequences, reusing dst's rows; it returns an
	// empty batch and io.EOF when none is left.
	batch(dst [][]int, n int) ([][]int, error)
	Close() error
}

// textTokens is a text's encoding, a tokenSource of one sequence.
type textTokens struct {
	ids    []int
	pieces []string // raw bytes of each token, as strings
	done   bool
}

func (t *textTokens) batch(dst [][]int, n int) ([][]int, error) {
	if t.done || n < 1 {
		return dst[:0], io.EOF
	}
	t.done = true
	return append(dst[:0], t.ids), nil
}

func (t *textTokens) Close() error { return nil }

// open returns in's token sequences, or nils when in is optional and not
// given. A token file is checked
// against the model's n_ctx as it is read; a text is encoded at once, its
// BOS policy and result reported on stderr.
func (v *vocab) open(fs *flag.FlagSet, in *tokenInput) (tokenSource, *textTokens, error) {
	g := in.given(fs)
	switch {
	case len(g) > 1:
		return nil, nil, fmt.Errorf("%s: %s are mutually exclusive: give one", v.cmd, strings.Join(g, " and "))
	case len(g) == 0 && !in.optional:
		return nil, nil, fmt.Errorf("%s: give --%s FILE, --%s TEXT or --%s-file FILE", v.cmd, in.fileFlag, in.textFlag, in.textFlag)
	case len(g) == 0:
		return nil, nil, nil
	case g[0] == "--"+in.fileFlag:
		var textOnly []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "bos" || f.Name == "special" {
				textOnly = append(textOnly, "--"+f.Name)
			}
		})
		if len(textOnly) > 0 {
			return nil, nil, fmt.Errorf("%s: %s applies to text input only; the sequences of --%s are used as given", v.cmd, strings.Join(textOnly, " and "), in.fileFlag)
		}
		r, err := openTokens(in.file, v.nCtx)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: --%s: %w", v.cmd, in.fileFlag, err)
		}
		return r, nil, nil
	}
	text, name := in.text, g[0]
	if name != "--"+in.textFlag {
		var err error
		if text, err = readBounded(in.textFile, maxTextFile); err != nil {
			return nil, nil, fmt.Errorf("%s: %s: %w", v.cmd, name, err)
		}
	}
	t, err := v.encode(name, text)
	if err != nil {
		return nil, nil, err
	}
	return t, t, nil
}

// encode encodes the text of flag name as one sequence under the BOS
// policy, which it reports on stderr.
func (v *vocab) encode(name, text string) (*textTokens, error) {
	if v.tok == nil {
		return nil, fmt.Errorf("%s: %s needs a tokenizer: %w", v.cmd, name, v.missing)
	}
	enc, err := v.tok.Encode(text, v.opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", v.cmd, name, err)
	}
	fmt.Fprintf(v.stderr, "%s: %s: %d tokens; %s\n", v.cmd, name, len(enc.IDs), bosLine(v.tok, v.opt.BOS))
	if len(enc.IDs) == 0 {
		return nil, fmt.Errorf("%s: %s encodes to no tokens", v.cmd, name)
	}
	if len(enc.IDs) > v.nCtx {
		return nil, fmt.Errorf("%s: %s is %d tokens, more than the model's n_ctx %d", v.cmd, name, len(enc.IDs), v.nCtx)
	}
	return &textTokens{ids: enc.IDs, pieces: v.pieces(enc.IDs)}, nil
}

// oneToken encodes the text of flag name, which must be one token (no
// BOS; special-token text as --special says): an answer of patch's
// metrics.
func (v *vocab) oneToken(name, text string) (int, error) {
	if v.tok == nil {
		return 0, fmt.Errorf("%s: %s needs a tokenizer: %w", v.cmd, name, v.missing)
	}
	enc, err := v.tok.Encode(text, tokenizer.Options{BOS: tokenizer.BOSNever, Special: v.opt.Special})
	if err != nil {
		return 0, fmt.Errorf("%s: %s: %w", v.cmd, name, err)
	}
	if len(enc.IDs) != 1 {
		return 0, fmt.Errorf("%s: %s %q is %d tokens %s, want one token", v.cmd, name, text, len(enc.IDs), v.join(enc.IDs))
	}
	fmt.Fprintf(v.stderr, "%s: %s %q is token %d\n", v.cmd, name, text, enc.IDs[0])
	return enc.IDs[0], nil
}

// bosLine says which BOS policy an encoding used and whether it prepended
// a token.
func bosLine(tok *tokenizer.Tokenizer, policy tokenizer.BOS) string {
	if policy == tokenizer.BOSAlways || policy == tokenizer.BOSAuto && tok.AutoBOS() { // Encode failed otherwise
		return fmt.Sprintf("bos: %s (prepended id %d)", policy, tok.BOSID())
	}
	return fmt.Sprintf("bos: %s (none prepended)", policy)
}

// known reports whether tokens can be shown as text.
func (v *vocab) known() bool { return v.tok != nil }

// piece returns token id's raw text, or "" when it has none (an id past
// the tokenizer's, a padding row of the model's vocabulary).
func (v *vocab) piece(id int) string {
	if v.tok == nil {
		return ""
	}
	p, err := v.tok.Piece(id)
	if err != nil {
		return ""
	}
	return p
}

// pieces returns the raw text of each id.
func (v *vocab) pieces(ids []int) []string {
	out := make([]string, len(ids))
	for k, id := range ids {
		out[k] = v.piece(id)
	}
	return out
}

// label shows token id for people: its text with whitespace visible as
// `tokenize` shows it, or #id for an id the tokenizer has no text for, or
// the bare id without a tokenizer.
func (v *vocab) label(id int) string {
	if v.tok == nil {
		return fmt.Sprint(id)
	}
	if p, err := v.tok.Piece(id); err == nil {
		return visible(p)
	}
	return fmt.Sprintf("#%d", id)
}

// join shows a sequence as its labels in brackets: [When][␣Mary].
func (v *vocab) join(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString("[" + v.label(id) + "]")
	}
	return b.String()
}

// writeTextJSON writes, when t is not nil, the fields
// ,"PREFIXtokens":[[ids]],"PREFIXpieces":[[pieces]] that a command's JSON
// object gains from text input: the ids the text encoded to, as one
// sequence ([batch][pos], batch 1), and each token's raw text (a piece
// that is part of a UTF-8 character shows as U+FFFD: JSON strings hold
// characters; the id is exact).
func writeTextJSON(w io.Writer, prefix string, t *textTokens) error {
	if t == nil {
		return nil
	}
	if err := writeJSONField(w, prefix+"tokens", [][]int{t.ids}); err != nil {
		return err
	}
	return writeJSONField(w, prefix+"pieces", [][]string{t.pieces})
}

// writeJSONField writes ,"key":value: a field added to a JSON object a
// command prints.
func writeJSONField(w io.Writer, key string, value any) error {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false) // pieces such as <|endoftext|> stay readable, as tokenize prints them
	if err := e.Encode(value); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, ",%q:%s", key, bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	return err
}
