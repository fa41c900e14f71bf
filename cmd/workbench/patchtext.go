package main

import (
	"fmt"
	"io"

	"github.com/mechinterp/workbench/patching"
)

// sameLength checks that patch's clean and corrupted texts encode to the
// same number of tokens, showing both as pieces when they do not.
func sameLength(v *vocab, cleanIn, corruptedIn tokenInput, clean, corrupted *textTokens) error {
	if len(clean.ids) == len(corrupted.ids) {
		return nil
	}
	a, b := "clean (--"+cleanIn.textFlag+"):", "corrupted (--"+corruptedIn.textFlag+"):"
	w := max(len(a), len(b))
	return fmt.Errorf("patch: the clean text is %d tokens and the corrupted text %d: patching needs the same number of tokens, position for position\n  %-*s %s\n  %-*s %s",
		len(clean.ids), len(corrupted.ids), w, a, v.join(clean.ids), w, b, v.join(corrupted.ids))
}

// optionalToken encodes flag name's text as one token: nil when text is
// empty (the flag was not given).
func (v *vocab) optionalToken(name, text string) ([]int, error) {
	if text == "" {
		return nil, nil
	}
	id, err := v.oneToken(name, text)
	if err != nil {
		return nil, err
	}
	return []int{id}, nil
}

// writePatchTextJSON writes the fields patch's JSON gains from text input:
// both runs' tokens and pieces, and the answer and wrong tokens.
func writePatchTextJSON(w io.Writer, v *vocab, clean, corrupted *textTokens, ans, wr []int) error {
	if clean == nil {
		return nil
	}
	if err := writeTextJSON(w, "clean_", clean); err != nil {
		return err
	}
	if err := writeTextJSON(w, "corrupted_", corrupted); err != nil {
		return err
	}
	for _, t := range []struct {
		key string
		ids []int
	}{{"answer", ans}, {"wrong", wr}} {
		if t.ids == nil {
			continue
		}
		if err := writeJSONField(w, t.key+"_token", t.ids[0]); err != nil {
			return err
		}
		if err := writeJSONField(w, t.key+"_piece", v.piece(t.ids[0])); err != nil {
			return err
		}
	}
	return nil
}

// labelPositions relabels g's position axis ("pos P") for people with the
// token at P of the one clean sequence: "P ␣Mary", or "P ␣Mary/␣John" where the corrupted token
// differs.
func labelPositions(g *patching.Grid, v *vocab, clean, corrupted []int) {
	cols := make([]string, len(g.Axes[1]))
	for c, label := range g.Axes[1] {
		cols[c] = label
		var p int
		if _, err := fmt.Sscanf(label, "pos %d", &p); err != nil || p < 0 || p >= len(clean) {
			continue
		}
		text := v.label(clean[p])
		if corrupted[p] != clean[p] {
			text += "/" + v.label(corrupted[p])
		}
		cols[c] = fmt.Sprintf("%d %s", p, text)
	}
	g.Axes = [][]string{g.Axes[0], cols}
}

// writeAnswers shows the metric's answer and wrong tokens as text, when
// the tokenizer is known and each is one token for every sequence.
func writeAnswers(w io.Writer, v *vocab, ans, wr []int) {
	if !v.known() || len(ans) != 1 {
		return
	}
	fmt.Fprintf(w, "answer: %s (%d)", v.join(ans), ans[0])
	if len(wr) == 1 {
		fmt.Fprintf(w, ", wrong: %s (%d)", v.join(wr), wr[0])
	}
	fmt.Fprintln(w)
}
