package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mechinterp/workbench/figures"
)

// Report is a notebook's lesson under construction: a title, blocks of
// prose, code, tables and figures in order, and the key numbers. Methods
// that can fail (a missing code region, a figure that does not render)
// record the first error, which Write returns, so a notebook reads as a
// lesson rather than as error handling.
type Report struct {
	title   string
	o       Options
	regions map[string]string
	start   time.Time

	blocks    []template.HTML
	toc       []tocEntry
	headlines []headline
	claims    map[string]Claim
	failed    []string // keys of claims that did not hold, in order
	results   map[string]any
	files     map[string][]byte // PNG figures, by file name
	inRow     bool
	nFig      int
	err       error
}

type tocEntry struct{ ID, Title string }

type headline struct{ Key, Label, Text string }

// New starts a report titled title for the notebook whose Go source is src
// (the embedded main.go that Code quotes), with the options of this run.
// A malformed region in src is reported by Write.
func New(title string, src []byte, o Options) *Report {
	r := &Report{title: title, o: o, start: time.Now(), results: make(map[string]any), files: make(map[string][]byte),
		claims: make(map[string]Claim)}
	r.regions, r.err = regions(src)
	return r
}

// Options returns the options the report was started with.
func (r *Report) Options() Options { return r.o }

// Err returns the first error recorded so far.
func (r *Report) Err() error { return r.err }

func (r *Report) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *Report) add(h string) { r.blocks = append(r.blocks, template.HTML(h)) }

// Section starts a numbered section of the lesson, listed in the contents.
func (r *Report) Section(title string) {
	r.EndRow()
	id := fmt.Sprintf("s%d", len(r.toc)+1)
	r.toc = append(r.toc, tocEntry{ID: id, Title: title})
	r.add(fmt.Sprintf(`<h2 id="%s">%d. %s</h2>`, id, len(r.toc), html.EscapeString(title)))
}

// Subsection starts an unnumbered heading within a section.
func (r *Report) Subsection(title string) {
	r.EndRow()
	r.add("<h3>" + html.EscapeString(title) + "</h3>")
}

// P adds a paragraph of prose; format and args are as for fmt.Sprintf, and
// the result may use `code` and **bold** (see the package comment).
func (r *Report) P(format string, args ...any) {
	r.add("<p>" + inline(fmt.Sprintf(format, args...)) + "</p>")
}

// Note adds a highlighted aside: a caveat, a cautionary tale, a reading
// hint. The text is marked up as for P.
func (r *Report) Note(format string, args ...any) {
	r.add(`<div class="note">` + inline(fmt.Sprintf(format, args...)) + "</div>")
}

// List adds a bulleted list; each item is marked up as for P.
func (r *Report) List(items ...string) {
	var b strings.Builder
	b.WriteString("<ul>")
	for _, it := range items {
		b.WriteString("<li>" + inline(it) + "</li>")
	}
	b.WriteString("</ul>")
	r.add(b.String())
}

// Code shows the region name of the notebook's source (see the package
// comment), highlighted. A region that does not exist is an error.
func (r *Report) Code(name string) {
	code, ok := r.regions[name]
	if !ok {
		r.fail(fmt.Errorf("report: no code region %q in the source", name))
		return
	}
	r.add(`<pre class="code"><code>` + highlight(code) + "</code></pre>")
}

// Pre shows text verbatim in a monospaced block: program output, a text
// report from an analysis package.
func (r *Report) Pre(text string) {
	r.add(`<pre class="out">` + html.EscapeString(strings.TrimRight(text, "\n")) + "</pre>")
}

// Table adds a table with a caption (marked up as for P), a header row and
// body rows of cells; a row may be shorter than the header. Cells that
// parse as numbers are aligned right.
func (r *Report) Table(caption string, header []string, rows [][]string) {
	var b strings.Builder
	b.WriteString(`<div class="table"><table>`)
	if caption != "" {
		b.WriteString("<caption>" + inline(caption) + "</caption>")
	}
	b.WriteString("<thead><tr>")
	for _, h := range header {
		b.WriteString("<th>" + inline(h) + "</th>")
	}
	b.WriteString("</tr></thead><tbody>")
	for _, row := range rows {
		b.WriteString("<tr>")
		for _, c := range row {
			if numeric.MatchString(c) {
				b.WriteString(`<td class="num">` + html.EscapeString(c) + "</td>")
			} else {
				b.WriteString("<td>" + inline(c) + "</td>")
			}
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table></div>")
	r.add(b.String())
}

var numeric = regexp.MustCompile(`^[-+−]?[0-9.,]+(e[-+]?[0-9]+)?\s*(%|×|s|ms)?$`)

// Figure adds fig at its default size, inline as SVG, with a caption
// (marked up as for P).
func (r *Report) Figure(fig *figures.Figure, caption string) { r.FigureAt(fig, 0, 0, caption) }

// FigureAt adds fig at widthPx × heightPx (0 for the figure's default),
// inline as SVG.
func (r *Report) FigureAt(fig *figures.Figure, widthPx, heightPx int, caption string) {
	var buf bytes.Buffer
	if err := fig.SVG(&buf, widthPx, heightPx); err != nil {
		r.fail(fmt.Errorf("report: figure %q: %w", caption, err))
		return
	}
	svg := buf.String()
	if i := strings.Index(svg, "<svg"); i >= 0 {
		svg = svg[i:] // drop the XML prolog and generator comment
	}
	r.nFig++
	r.add(fmt.Sprintf(`<figure id="fig%d">%s<figcaption><b>Figure %d.</b> %s</figcaption></figure>`,
		r.nFig, svg, r.nFig, inline(caption)))
}

// FigurePNG adds fig as the PNG file name (written next to index.html by
// Write) at widthPx × heightPx: for figures with many cells or points,
// whose SVG would be large.
func (r *Report) FigurePNG(fig *figures.Figure, name string, widthPx, heightPx int, caption string) {
	if name != filepath.Base(name) || !strings.HasSuffix(name, ".png") {
		r.fail(fmt.Errorf("report: figure file %q: want a plain name ending in .png", name))
		return
	}
	if _, dup := r.files[name]; dup {
		r.fail(fmt.Errorf("report: figure file %q written twice", name))
		return
	}
	var buf bytes.Buffer
	if err := fig.PNG(&buf, widthPx, heightPx); err != nil {
		r.fail(fmt.Errorf("report: figure %q: %w", name, err))
		return
	}
	r.files[name] = buf.Bytes()
	w, h := widthPx, heightPx
	if w == 0 || h == 0 {
		w, h = fig.Size()
	}
	r.nFig++
	r.add(fmt.Sprintf(`<figure id="fig%d"><img src="%s" width="%d" height="%d" alt="%s"><figcaption><b>Figure %d.</b> %s</figcaption></figure>`,
		r.nFig, html.EscapeString(name), w, h, html.EscapeString(caption), r.nFig, inline(caption)))
}

// BeginRow lays the following figures side by side, until EndRow or the
// next section; they wrap on a narrow screen.
func (r *Report) BeginRow() {
	r.EndRow()
	r.add(`<div class="row">`)
	r.inRow = true
}

// EndRow ends a row begun by BeginRow; it does nothing outside a row.
func (r *Report) EndRow() {
	if r.inRow {
		r.inRow = false
		r.add("</div>")
	}
}

// Headline records a key number: it is shown in the report's summary as
// label and fmt.Sprintf(format, v), stored in results.json under key, and
// its text is returned for use in prose. A key may be recorded once.
func (r *Report) Headline(key, label string, v float64, format string) string {
	text := fmt.Sprintf(format, v)
	r.Result(key, v)
	r.headlines = append(r.headlines, headline{Key: key, Label: label, Text: text})
	return text
}

// Result stores v under key in results.json without showing it in the
// summary: a number, string, bool, or a slice or map of them. A key may be
// recorded once.
func (r *Report) Result(key string, v any) {
	if _, dup := r.results[key]; dup {
		r.fail(fmt.Errorf("report: result %q recorded twice", key))
		return
	}
	r.results[key] = v
}

// Claim is a stated result's record in results.json: whether the condition
// behind the sentence held in this run, and what was measured.
type Claim struct {
	Holds    bool   `json:"holds"`
	Measured string `json:"measured"`
	// QuickOnly marks a FullClaim in a quick run: its condition was not
	// checked (Holds is false) because the quick run is too small for it.
	QuickOnly bool `json:"unchecked_in_quick,omitempty"`
}

// Claim states a result of this run, and only if the run measured it:
// every sentence of a notebook that states a result (one quantity above
// another, a curve that falls, a head that composes) goes through Claim
// with the condition that makes it true. When holds, the page shows the
// sentence (format and args as for P) followed by what was measured; when
// not, it shows the sentence marked "not observed in this run", with the
// measurement, never the bare sentence. Every claim is stored in
// results.json under claims; Write writes the page and then returns an
// error naming each claim that did not hold, so that the notebook's test
// and a run from the command line fail. A key may be claimed once.
func (r *Report) Claim(key string, holds bool, measured string, format string, args ...any) {
	if _, dup := r.claims[key]; dup {
		r.fail(fmt.Errorf("report: claim %q made twice", key))
		return
	}
	r.claims[key] = Claim{Holds: holds, Measured: measured}
	text := inline(fmt.Sprintf(format, args...))
	m := `<span class="measured">(measured: ` + inline(measured) + `)</span>`
	if holds {
		r.add(`<p class="claim" data-claim="` + html.EscapeString(key) + `">` + text + " " + m + "</p>")
		return
	}
	r.failed = append(r.failed, key)
	r.add(`<p class="claim failed" data-claim="` + html.EscapeString(key) + `"><b>Not observed in this run:</b> ` + text + " " + m + "</p>")
}

// FullClaim is Claim for a result that only the full run is large enough
// to show. In a full run it is Claim. In a quick run (Options.Quick) the
// condition is not checked: the page shows the sentence marked "checked
// only by the full run" with what this quick run measured, results.json
// records it as unchecked, and Write does not fail on it.
func (r *Report) FullClaim(key string, holds bool, measured string, format string, args ...any) {
	if !r.o.Quick {
		r.Claim(key, holds, measured, format, args...)
		return
	}
	if _, dup := r.claims[key]; dup {
		r.fail(fmt.Errorf("report: claim %q made twice", key))
		return
	}
	r.claims[key] = Claim{Measured: measured, QuickOnly: true}
	r.add(`<p class="claim unchecked" data-claim="` + html.EscapeString(key) + `"><b>Checked only by the full run:</b> ` +
		inline(fmt.Sprintf(format, args...)) + ` <span class="measured">(this quick run measured: ` + inline(measured) + `)</span></p>`)
}

// Takeaway is one item of a summary list: its text, marked up as for P,
// and the keys of the claims it repeats.
type Takeaway struct {
	Text   string
	Claims []string
}

// Takeaways adds a bulleted list of the items whose claims all held, so
// that a summary never repeats a result the run did not show; an item
// without claims states no result of the run and is always listed.
func (r *Report) Takeaways(items ...Takeaway) {
	var list []string
	for _, it := range items {
		if !slices.ContainsFunc(it.Claims, func(k string) bool { return !r.Holds(k) }) {
			list = append(list, it.Text)
		}
	}
	if len(list) > 0 {
		r.List(list...)
	}
}

// Holds reports whether the claim key was made and held, for text that
// repeats it (a summary list): state it only when it holds.
func (r *Report) Holds(key string) bool { return r.claims[key].Holds }

// Results is the content of results.json.
type Results struct {
	Notebook string         `json:"notebook"`
	Quick    bool           `json:"quick"`
	Seed     uint64         `json:"seed"`
	Seconds  float64        `json:"seconds"`
	Results  map[string]any `json:"results"`
	// Headlines are the displayed texts of the headline numbers, by key.
	Headlines map[string]string `json:"headlines"`
	// Claims are the stated results, by key (see Report.Claim).
	Claims map[string]Claim `json:"claims"`
}

// Write writes index.html, results.json and any PNG figures to the
// options' Out directory, creating it. It returns the first error recorded
// while building the report, if any, and writes nothing then. When every
// file is written it returns an error naming the claims that did not hold,
// if any (see Claim).
func (r *Report) Write() error {
	r.EndRow()
	if r.err != nil {
		return r.err
	}
	if err := os.MkdirAll(r.o.Out, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for name, b := range r.files {
		if err := writeFile(filepath.Join(r.o.Out, name), b); err != nil {
			return err
		}
	}
	elapsed := time.Since(r.start)
	res := Results{Notebook: r.o.Name, Quick: r.o.Quick, Seed: r.o.Seed, Seconds: math.Round(elapsed.Seconds()*10) / 10,
		Results: finite(r.results).(map[string]any), Headlines: make(map[string]string), Claims: r.claims}
	for _, h := range r.headlines {
		res.Headlines[h.Key] = h.Text
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("report: results.json: %w", err)
	}
	if err := writeFile(filepath.Join(r.o.Out, "results.json"), append(js, '\n')); err != nil {
		return err
	}
	var page bytes.Buffer
	if err := pageTemplate.Execute(&page, r.page(elapsed)); err != nil {
		return fmt.Errorf("report: index.html: %w", err)
	}
	if err := writeFile(filepath.Join(r.o.Out, "index.html"), page.Bytes()); err != nil {
		return err
	}
	if len(r.failed) > 0 {
		var b strings.Builder
		for _, k := range r.failed {
			fmt.Fprintf(&b, "; %s (measured: %s)", k, r.claims[k].Measured)
		}
		return fmt.Errorf("report: %s: %d claim(s) did not hold in this run%s", r.o.Name, len(r.failed), b.String())
	}
	return nil
}

// finite returns v with every non-finite float replaced by nil (JSON null),
// recursively through slices and maps.
func finite(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case float32:
		return finite(float64(x))
	case []float64:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = finite(e)
		}
		return out
	case [][]float64:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = finite(e)
		}
		return out
	case map[string]float64:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = finite(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = finite(e)
		}
		return out
	}
	return v
}

func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(fmt.Errorf("report: %w", err), os.Remove(tmp))
	}
	return nil
}

type pageData struct {
	Title     string
	TOC       []tocEntry
	Headlines template.HTML
	Body      []template.HTML
	Command   string
	Footer    string
}

func (r *Report) page(elapsed time.Duration) pageData {
	cmd := "go run ./notebooks/" + r.o.Name
	if r.o.Quick {
		cmd += " -quick"
	}
	if r.o.Seed != 1 {
		cmd += fmt.Sprintf(" -seed %d", r.o.Seed)
	}
	var hl strings.Builder
	for _, h := range r.headlines {
		fmt.Fprintf(&hl, `<div><dt>%s</dt><dd data-key="%s">%s</dd></div>`,
			inline(h.Label), html.EscapeString(h.Key), html.EscapeString(h.Text))
	}
	return pageData{
		Title: r.title, TOC: r.toc, Headlines: template.HTML(hl.String()), Body: r.blocks, Command: cmd,
		Footer: fmt.Sprintf("Generated %s in %.1f s by %s on %s/%s with %d CPUs.",
			time.Now().UTC().Format("2006-01-02 15:04 UTC"), elapsed.Seconds(), runtime.Version(),
			runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
	}
}

// inline escapes s and sets `code`, **bold** and *emphasis*.
func inline(s string) string {
	s = html.EscapeString(s)
	s = codeSpan.ReplaceAllString(s, "<code>$1</code>")
	s = boldSpan.ReplaceAllString(s, "<b>$1</b>")
	return emSpan.ReplaceAllString(s, "<em>$1</em>")
}

var (
	codeSpan = regexp.MustCompile("`([^`]+)`")
	boldSpan = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	emSpan   = regexp.MustCompile(`\*([^*\s](?:[^*]*[^*\s])?)\*`)
)
