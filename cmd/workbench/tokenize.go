package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/mechinterp/workbench/tokenizer"
)

// maxTextFile bounds the --text-file that tokenize reads.
const maxTextFile = 64 << 20

func runTokenize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "model checkpoint `FILE` or folder: the tokenizer files beside it (tokenizer.json, or vocab.json + merges.txt)")
	tokPath := fs.String("tokenizer", "", "a `DIR` holding tokenizer.json or vocab.json + merges.txt, or the tokenizer.json file itself")
	text := fs.String("text", "", "the `TEXT` to encode")
	textFile := fs.String("text-file", "", "encode the contents of `FILE`")
	special := fs.Bool("special", false, "encode special-token text (e.g. <|endoftext|>) as those tokens; without it, it is plain text")
	bos := fs.String("bos", "never", "BOS `POLICY`: never, always, or auto (what the tokenizer's configuration says)")
	asJSON := fs.Bool("json", false, `print {"ids": [...], "pieces": [...], "spans": [[start, end], ...]} (byte spans into the input)`)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: workbench tokenize (--model M | --tokenizer DIR_OR_FILE) (--text S | --text-file F) [--special] [--bos never|always|auto] [--json]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Shows the tokens of a text: id, byte span [start, end) in the input, and the piece")
		fmt.Fprintln(w, "with whitespace made visible (␣ space, \\n, \\t, \\r; bytes of a partial character as \\xNN).")
		fmt.Fprintln(w, "The BOS policy used is printed (on w with --json). A BOS token has the span [0, 0).")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("tokenize: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["model"] == set["tokenizer"] {
		return errors.New("tokenize: give exactly one of --model and --tokenizer")
	}
	if set["text"] == set["text-file"] {
		return errors.New("tokenize: give exactly one of --text and --text-file")
	}
	policy, err := tokenizer.ParseBOS(*bos)
	if err != nil {
		return fmt.Errorf("tokenize: --bos: %w", err)
	}
	src := *tokPath
	if set["model"] {
		dir, ok, err := tokenizerBeside(*model)
		if err != nil {
			return fmt.Errorf("tokenize: --model: %w", err)
		}
		if !ok {
			return fmt.Errorf("tokenize: --model: %w", noTokenizer(dir))
		}
		src = dir
	}
	tok, err := tokenizer.Load(src)
	if err != nil {
		return fmt.Errorf("tokenize: %w", err)
	}
	input := *text
	if set["text-file"] {
		if input, err = readBounded(*textFile, maxTextFile); err != nil {
			return fmt.Errorf("tokenize: --text-file: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	enc, err := tok.Encode(input, tokenizer.Options{Special: *special, BOS: policy})
	if err != nil {
		return fmt.Errorf("tokenize: %w", err)
	}
	bosLine := bosLine(tok, policy)
	pieces := make([]string, len(enc.IDs))
	for k, id := range enc.IDs {
		if pieces[k], err = tok.Piece(id); err != nil {
			return fmt.Errorf("tokenize: %w", err)
		}
	}
	if *asJSON {
		fmt.Fprintln(stderr, "tokenize:", bosLine)
		spans := make([][2]int, len(enc.Spans))
		for k, s := range enc.Spans {
			spans[k] = [2]int{s.Start, s.End}
		}
		out := struct {
			IDs    []int    `json:"ids"`
			Pieces []string `json:"pieces"`
			Spans  [][2]int `json:"spans"`
		}{enc.IDs, pieces, spans}
		if out.IDs == nil {
			out.IDs = []int{}
		}
		e := json.NewEncoder(stdout)
		e.SetEscapeHTML(false)
		return e.Encode(out)
	}
	fmt.Fprintf(stdout, "%d tokens; %s\n", len(enc.IDs), bosLine)
	for k, id := range enc.IDs {
		fmt.Fprintf(stdout, "%5d %7d [%d, %d) %s\n", k, id, enc.Spans[k].Start, enc.Spans[k].End, visible(pieces[k]))
	}
	return nil
}

// visible shows a piece with its whitespace and partial characters made
// visible.
func visible(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && w == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == ' ':
			b.WriteString("␣")
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < ' ' || r == 0x7f || r >= 0x80 && r < 0xa0 || r == 0xa0 || r == 0x200b || r == 0x200d || r == 0x2028 || r == 0x2029 || r == 0x3000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += w
	}
	return b.String()
}

// readBounded reads a file of at most limit bytes.
func readBounded(path string, limit int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return "", err
	}
	if int64(len(data)) > limit {
		return "", fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return string(data), nil
}
