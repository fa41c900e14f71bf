package report_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/figures"
	"github.com/mechinterp/workbench/notebooks/report"
	"github.com/mechinterp/workbench/notebooks/report/reporttest"
)

// source stands in for a notebook's embedded main.go.
const source = `package main

func run() {
	// region: outer
	x := 1 // one
	// region: inner
	if x > 0 {
		s := "a<b"
		_ = s
	}
	// endregion
	// endregion
}
`

// run is a notebook in miniature, exercising every kind of block.
func run(_ context.Context, o report.Options) error {
	r := report.New("A <tiny> notebook", []byte(source), o)
	r.P("Prose with `code`, **bold**, *em* and <escaped> text; 2 * 3 * 4 stays.")
	r.Section("Numbers")
	r.Code("inner")
	r.Code("outer")
	r.Table("A table", []string{"head", "score"}, [][]string{{"L0H1", "0.93"}, {"L1H2", "−0.10"}})
	fig, err := figures.Curves(figures.CurvesSpec{Title: "loss", Series: []figures.Series{{Name: "train", Y: []float64{3, 2, 1}}}})
	if err != nil {
		return err
	}
	r.BeginRow()
	r.Figure(fig, "An inline SVG.")
	r.FigurePNG(fig, "loss.png", 400, 300, "A PNG file.")
	r.EndRow()
	r.Note("A caveat.")
	r.Pre("raw <output>\n")
	r.Headline("acc", "accuracy & more", 0.9312, "%.3f")
	r.Headline("delta", "signed", 0.5, "%+.2f")
	r.Result("curve", []float64{1, 2})
	r.Claim("falls", 1 < 3, "loss 3 → 1", "The loss **falls**.")
	return r.Write()
}

func TestRoundTrip(t *testing.T) {
	res := reporttest.Run(t, "00-test", run, "acc", "delta", "curve")
	reporttest.Claimed(t, res, "falls")
	if got := reporttest.Float(t, res, "acc"); got != 0.9312 {
		t.Errorf("acc = %v, want 0.9312", got)
	}
	if got, want := res.Headlines["acc"], "0.931"; got != want {
		t.Errorf("headline text = %q, want %q", got, want)
	}
}

func TestPage(t *testing.T) {
	dir := t.TempDir()
	if err := run(context.Background(), report.Options{Name: "00-test", Out: dir, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{
		"<title>A &lt;tiny&gt; notebook",
		"<code>code</code>", "<b>bold</b>", "<em>em</em>", "2 * 3 * 4 stays", "<em>em</em>", "&lt;escaped&gt;",
		`<span class="s">&#34;a&lt;b&#34;</span>`, // highlighted, escaped string
		`<span class="c">// one</span>`,
		`<img src="loss.png"`, "<svg ", `class="row"`, "raw &lt;output&gt;",
		"go run ./notebooks/00-test</code>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if strings.Contains(page, "region:") || strings.Contains(page, "endregion") {
		t.Errorf("index.html shows region markers")
	}
	if strings.Contains(page, "<?xml") {
		t.Errorf("index.html has an XML prolog inside the page")
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, src string
		build     func(r *report.Report)
		want      string
	}{
		{"missing region", source, func(r *report.Report) { r.Code("nope") }, `no code region "nope"`},
		{"unclosed", "// region: a\nx\n", func(*report.Report) {}, `region "a" is not closed`},
		{"stray end", "// endregion\n", func(*report.Report) {}, "endregion without a region"},
		{"duplicate", "// region: a\n// endregion\n// region: a\n// endregion\n", func(*report.Report) {}, "defined twice"},
		{"duplicate key", source, func(r *report.Report) { r.Result("k", 1); r.Result("k", 2) }, `"k" recorded twice`},
		{"duplicate claim", source, func(r *report.Report) { r.Claim("c", true, "m", "a"); r.Claim("c", true, "m", "b") }, `claim "c" made twice`},
		{"bad png name", source, func(r *report.Report) {
			fig, _ := figures.Bars(figures.BarsSpec{Categories: []string{"a"}, Groups: []figures.BarGroup{{Values: []float64{1}}}})
			r.FigurePNG(fig, "../x.png", 0, 0, "")
		}, "plain name"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		r := report.New("t", []byte(tt.src), report.Options{Name: "t", Out: dir})
		tt.build(r)
		err := r.Write()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Write() = %v, want an error containing %q", tt.name, err, tt.want)
		}
		if _, err := os.Stat(filepath.Join(dir, "index.html")); err == nil {
			t.Errorf("%s: index.html written despite the error", tt.name)
		}
	}
}

func TestParseFlags(t *testing.T) {
	var sink strings.Builder
	o, err := report.ParseFlags("01-x", []string{"-quick", "-seed", "7", "-out", "d"}, &sink)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Quick || o.Seed != 7 || o.Out != "d" || o.Name != "01-x" {
		t.Errorf("ParseFlags = %+v", o)
	}
	o, err = report.ParseFlags("01-x", nil, &sink)
	if err != nil || o.Out != filepath.Join("out", "01-x") || o.Seed != 1 || o.Quick {
		t.Errorf("defaults = %+v, %v", o, err)
	}
	if _, err := report.ParseFlags("01-x", []string{"extra"}, &sink); err == nil {
		t.Errorf("ParseFlags accepted a stray argument")
	}
}

func TestDemoModel(t *testing.T) {
	m, path, err := report.DemoModel()
	if err != nil {
		t.Fatal(err)
	}
	if c := m.Cfg; c.NLayers != 2 || c.NHeads != 4 || c.DVocab != 64 {
		t.Errorf("demo model %s: config %+v, want 2 layers × 4 heads, d_vocab 64", path, c)
	}
	if _, err := report.RepoFile("no/such/file"); err == nil {
		t.Errorf("RepoFile found a file that does not exist")
	}
}

// TestClaims checks that a stated result shows only when its condition
// held: a claim that fails is marked on the page, recorded in results.json,
// and makes Write (so the notebook's test) fail after writing the page.
func TestClaims(t *testing.T) {
	dir := t.TempDir()
	r := report.New("t", []byte(source), report.Options{Name: "t", Out: dir})
	r.Claim("up", true, "a 2 > b 1", "A is **above** B.")
	r.Claim("down", false, "c 0.40 < d 0.50", "C is above D.")
	r.Takeaways(report.Takeaway{Text: "always listed"}, report.Takeaway{Text: "listed: up held", Claims: []string{"up"}},
		report.Takeaway{Text: "left out: down failed", Claims: []string{"up", "down"}}, report.Takeaway{Text: "left out: never claimed", Claims: []string{"x"}})
	if !r.Holds("up") || r.Holds("down") || r.Holds("never made") {
		t.Errorf("Holds: up %v, down %v, never made %v", r.Holds("up"), r.Holds("down"), r.Holds("never made"))
	}
	err := r.Write()
	if err == nil || !strings.Contains(err.Error(), "1 claim(s) did not hold") || !strings.Contains(err.Error(), "down (measured: c 0.40 < d 0.50)") ||
		strings.Contains(err.Error(), "up") {
		t.Fatalf("Write() = %v, want an error naming the claim down only", err)
	}
	b, rerr := os.ReadFile(filepath.Join(dir, "index.html"))
	if rerr != nil {
		t.Fatalf("the page must be written even when a claim fails: %v", rerr)
	}
	page := string(b)
	for _, want := range []string{
		`data-claim="up">A is <b>above</b> B. <span class="measured">(measured: a 2 &gt; b 1)</span>`,
		`<b>Not observed in this run:</b> C is above D. <span class="measured">(measured: c 0.40 &lt; d 0.50)</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if !strings.Contains(page, "<ul><li>always listed</li><li>listed: up held</li></ul>") {
		t.Errorf("Takeaways: the list is not the two items whose claims held:\n%s", page)
	}
	if strings.Contains(strings.ReplaceAll(page, "Not observed in this run:</b> C is above D.", ""), "C is above D.") {
		t.Error("the failed claim's sentence also appears unmarked")
	}
	// A FullClaim is unchecked in a quick run, and checked in a full one.
	for _, quick := range []bool{true, false} {
		d := t.TempDir()
		fr := report.New("t", []byte(source), report.Options{Name: "t", Out: d, Quick: quick})
		fr.FullClaim("big", false, "x 1 < y 2", "X is above Y.")
		err := fr.Write()
		b, _ := os.ReadFile(filepath.Join(d, "index.html"))
		if quick && (err != nil || !strings.Contains(string(b), "<b>Checked only by the full run:</b> X is above Y.")) {
			t.Errorf("quick FullClaim: Write() = %v; page states it as %q", err, b)
		}
		if !quick && (err == nil || !strings.Contains(string(b), "<b>Not observed in this run:</b> X is above Y.")) {
			t.Errorf("full FullClaim: Write() = %v, want the failed claim", err)
		}
	}
	js, rerr := os.ReadFile(filepath.Join(dir, "results.json"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !strings.Contains(string(js), `"down": {
      "holds": false,
      "measured": "c 0.40 \u003c d 0.50"`) {
		t.Errorf("results.json does not record the failed claim:\n%s", js)
	}
}
