package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// screenWidth is the width the human tables are cut to fit: columns past
// it go to a further block of the same rows.
const screenWidth = 100

// maxCell is the longest a cell is shown (longer text is cut, ending "…").
const maxCell = 10

// table is a grid of text cells with a label per row: header rows (the
// input tokens, say) and body rows (the numbers). write prints it aligned,
// each column as wide as its widest cell, in as many blocks of columns as
// it takes to fit a width, every block repeating the headers and the row
// labels.
type table struct {
	headers, rows []tableRow
}

// tableRow is one labelled row of cells.
type tableRow struct {
	label string
	cells []string
}

// write prints t in blocks of columns at most width characters wide. A
// block is introduced by "columns i–j of n:" when there is more than one.
func (t table) write(w io.Writer, width int) {
	all := append(append([]tableRow(nil), t.headers...), t.rows...)
	if len(all) == 0 {
		return
	}
	n := 0
	lw := 0
	for _, r := range all {
		n = max(n, len(r.cells))
		lw = max(lw, runeLen(r.label))
	}
	colw := make([]int, n)
	for _, r := range all {
		for c, s := range r.cells {
			colw[c] = max(colw[c], runeLen(clip(s)))
		}
	}
	var blocks [][2]int
	for start := 0; start < n; {
		end, used := start, lw
		for end < n && (end == start || used+1+colw[end] <= width) {
			used += 1 + colw[end]
			end++
		}
		blocks = append(blocks, [2]int{start, end})
		start = end
	}
	for b, blk := range blocks {
		if len(blocks) > 1 {
			if b > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "columns %d–%d of %d:\n", blk[0]+1, blk[1], n)
		}
		for _, r := range all {
			var line strings.Builder
			line.WriteString(pad(r.label, lw, false))
			for c := blk[0]; c < blk[1]; c++ {
				s := ""
				if c < len(r.cells) {
					s = clip(r.cells[c])
				}
				line.WriteString(" " + pad(s, colw[c], true))
			}
			fmt.Fprintln(w, strings.TrimRight(line.String(), " "))
		}
	}
}

// runeLen is the width of s in a terminal, counting one column per rune.
func runeLen(s string) int { return utf8.RuneCountInString(s) }

// clip cuts s to maxCell runes, ending in "…" when it was longer.
func clip(s string) string {
	if runeLen(s) <= maxCell {
		return s
	}
	r := []rune(s)
	return string(r[:maxCell-1]) + "…"
}

// pad pads s with spaces to width runes, on the left when right is set.
func pad(s string, width int, right bool) string {
	fill := strings.Repeat(" ", max(0, width-runeLen(s)))
	if right {
		return fill + s
	}
	return s + fill
}
