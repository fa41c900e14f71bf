package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mechinterp/workbench/transformer"
)

// The transformer pages' figures, inputs and layouts (issue 15): colour
// bars, tooltips that go with their figure, pages that fit the screen, the
// input in the URL, honest scales and names.

// transformerPages are the pages these tests cover and, for each, a
// condition that holds once its figures are drawn.
var transformerPages = []struct{ page, drawn string }{
	{"attention", `!!document.querySelector('[data-testid=zoom] rect')`},
	{"circuits", `!!document.querySelector('[data-testid=comp-K]') && !!document.querySelector('[data-testid=matrix]') && document.querySelectorAll('[data-testid=row-top] .bar').length > 0`},
	{"lens", `document.querySelectorAll('[data-testid=logit-table] tbody tr').length === 3 && !!document.querySelector('[data-testid=pos-table]')`},
	{"patching", `!!document.querySelector('[data-testid=patch] rect')`},
}

// openDrawn opens page with the demo and waits for its figures.
func (b *browser) openDrawn(page, drawn string) {
	b.t.Helper()
	b.open(page)
	b.waitFor(page+" figures", drawn, 60*time.Second)
}

// TestBrowserColorbars checks that every heatmap on the transformer pages
// sits in a figure box with a colour bar carrying tick labels, that the
// lens tables have theirs, and that the circuit explorer's matrix has
// axis tick labels.
func TestBrowserColorbars(t *testing.T) {
	b := newBrowser(t)
	for _, tc := range transformerPages {
		b.t = t
		b.openDrawn(tc.page, tc.drawn)
		bad := eval[[]string](b, `Array.from(document.querySelectorAll('.heatmap')).filter((h) => {
			const f = h.closest('.hm-figure');
			return !f || f.querySelectorAll('.colorbar .cb-text').length < 2;
		}).map((h) => h.dataset.testid)`)
		n := eval[int](b, `document.querySelectorAll('.heatmap').length`)
		if (n == 0 && tc.page != "lens") || len(bad) > 0 { // the lens draws tables: checked below
			t.Errorf("%s: %d heatmaps, without a colour bar with tick labels: %v", tc.page, n, bad)
		}
		b.noErrors()
	}
	b.open("lens")
	b.waitFor("lens tables", transformerPages[2].drawn, 60*time.Second)
	if n := eval[int](b, `Array.from(document.querySelectorAll('table.lens')).filter((t) => t.parentNode.querySelectorAll('.colorbar .cb-text').length >= 2).length`); n != 2 {
		t.Errorf("%d lens tables with a colour bar, want 2 (logit and tuned)", n)
	}
	b.open("circuits")
	b.waitFor("matrix", `!!document.querySelector('[data-testid=matrix]')`, 60*time.Second)
	if n := eval[int](b, `document.querySelectorAll('[data-testid=matrix] .hm-labels text:not(.hm-title)').length`); n < 8 {
		t.Errorf("the circuit explorer's 64×64 matrix has %d axis tick labels", n)
	}
	b.noErrors()
}

// TestBrowserStaleTooltip hovers a heatmap cell, redraws the figure under
// the still mouse, and checks the tooltip went with the old figure.
func TestBrowserStaleTooltip(t *testing.T) {
	b := newBrowser(t)
	for _, tc := range []struct{ page, testid, drawn, redraw string }{
		{"attention", "zoom", transformerPages[0].drawn, "#run"},
		{"patching", "patch", transformerPages[3].drawn, "#run"},
	} {
		b.openDrawn(tc.page, tc.drawn)
		x, y := b.cellCenter(tc.testid, 1, 0)
		b.mouseTo(x, y)
		b.waitFor("tooltip", `!document.querySelector('#tooltip').hidden`, 5*time.Second)
		b.do("mark the old figure", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector('[data-testid=%q]').dataset.old = '1'`, tc.testid)))
		b.do("redraw", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).click()`, tc.redraw)))
		b.waitFor("redrawn", fmt.Sprintf(`(() => { const n = document.querySelector('[data-testid=%q]'); return !!n && !n.dataset.old; })()`, tc.testid), 30*time.Second)
		time.Sleep(100 * time.Millisecond)
		if eval[bool](b, `!document.querySelector('#tooltip').hidden`) {
			t.Errorf("%s: the tooltip %q stayed after its figure was redrawn", tc.page, eval[string](b, `document.querySelector('#tooltip').innerText`))
		}
		b.noErrors()
	}
}

// TestBrowserLayouts loads each transformer page at 1,440 and 390 px wide
// and checks that the page never scrolls sideways (wide figures scroll
// inside their own box), that at 1,440 px the lens tables of 40 positions
// fit without scrolling, and that on a phone the header fits.
func TestBrowserLayouts(t *testing.T) {
	b := newBrowser(t)
	for _, w := range []int64{1440, 390} {
		b.do("viewport", chromedp.EmulateViewport(w, 900))
		for _, tc := range transformerPages {
			drawn := tc.drawn
			if tc.page == "lens" {
				drawn = `document.querySelectorAll('[data-testid=logit-table] tbody tr').length === 3 && !!document.querySelector('[data-testid=lens-kl] path.series')`
			}
			b.openDrawn(tc.page, drawn)
			time.Sleep(200 * time.Millisecond)
			sw := eval[[]float64](b, `[document.documentElement.scrollWidth, window.innerWidth, document.querySelector('header.top').scrollWidth]`)
			if sw[1] != float64(w) {
				t.Fatalf("viewport %v, want %d", sw[1], w)
			}
			if sw[0] > sw[1] || sw[2] > sw[1] {
				wide := eval[[]string](b, `Array.from(document.querySelectorAll('body *')).filter((e) => {
					if (e.getBoundingClientRect().right <= innerWidth + 0.5) return false;
					for (let a = e.parentElement; a; a = a.parentElement) if (getComputedStyle(a).overflowX !== 'visible') return a === document.body || a === document.documentElement;
					return true;
				}).slice(0, 6).map((e) => e.tagName + '#' + e.id + '.' + e.className.baseVal + e.className)`)
				t.Errorf("%s at %d px: page %v px wide, header %v px; overflowing: %v", tc.page, w, sw[0], sw[2], wide)
			}
			if tc.page == "lens" && w == 1440 {
				n := eval[int](b, `document.querySelectorAll('[data-testid=logit-table] thead th').length - 1`)
				over := eval[[]float64](b, `(() => { const d = document.querySelector('#logit-table'); return [d.scrollWidth, d.clientWidth]; })()`)
				if n != 40 || over[0] > over[1] {
					t.Errorf("lens at 1440 px: %d positions, table box %v px of content in %v px", n, over[0], over[1])
				}
			}
			b.screenshot(fmt.Sprintf("%s-%d", tc.page, w))
			b.noErrors()
		}
	}
}

// TestBrowserURLState sets an input and a head on the Attention page,
// reloads its URL, and follows the navigation links: the input and the
// head come back and carry over, and the status describes the user's
// input.
func TestBrowserURLState(t *testing.T) {
	b := newBrowser(t)
	b.openDrawn("attention", transformerPages[0].drawn)
	const mine = "5 9 2 7 11 3 5 9 2 7 11"
	b.do("type tokens", chromedp.SetValue(chromedp.CSS("#tokens"), mine))
	b.do("show", chromedp.Click(chromedp.CSS("#run")))
	b.waitFor("shown", `document.body.dataset.tokens === '11'`, 30*time.Second)
	b.do("lock L1H2", chromedp.Click(chromedp.CSS(`#grid .thumb[data-head="L1H2"]`)))
	b.waitFor("locked", `document.querySelector('#grid .thumb[data-head="L1H2"]').classList.contains('locked')`, 5*time.Second)
	href := eval[string](b, `location.href`)
	u, err := url.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Get("model") != "demo" || q.Get("tokens") != strings.ReplaceAll(mine, " ", ",") || q.Get("head") != "L1H2" {
		t.Fatalf("URL %s does not hold the model, tokens and head", href)
	}
	if info := eval[string](b, `document.querySelector('#seq-info').textContent`); !strings.Contains(info, "your sequence: 11 tokens") {
		t.Errorf("status %q does not describe the user's input", info)
	}
	// A fresh load of the URL restores the state.
	b.do("reload", chromedp.Navigate(href))
	b.waitFor("restored", `document.body.dataset.ready === 'attention' && document.body.dataset.tokens === '11'`, 30*time.Second)
	if got := eval[string](b, `document.querySelector('#tokens').value`); got != mine {
		t.Errorf("after reload tokens %q, want %q", got, mine)
	}
	if title := eval[string](b, `document.querySelector('#focus-title').textContent`); !strings.Contains(title, "L1H2") || !eval[bool](b, `!document.querySelector('#lock-state').hidden`) {
		t.Errorf("after reload focus %q (want L1H2, locked)", title)
	}
	b.screenshot("url-state-attention")
	// The nav carries it to the Lens page, and from there to Circuits.
	b.do("to lens", chromedp.Click(chromedp.CSS(`nav a[data-nav=lens]`)))
	b.waitFor("lens", `document.body.dataset.ready === 'lens'`, 60*time.Second)
	if got := eval[string](b, `document.querySelector('#tokens').value`); got != mine {
		t.Errorf("lens page tokens %q, want %q carried from attention", got, mine)
	}
	if info := eval[string](b, `document.querySelector('#input-info').textContent`); !strings.Contains(info, "your sequence") {
		t.Errorf("lens status %q does not describe the user's input", info)
	}
	b.do("to circuits", chromedp.Click(chromedp.CSS(`nav a[data-nav=circuits]`)))
	b.waitFor("circuits", `document.body.dataset.ready === 'circuits'`, 60*time.Second)
	if got := eval[string](b, `document.querySelector('#head').value`); got != "1/2" {
		t.Errorf("circuits head %q, want 1/2 carried from attention", got)
	}
	if got := eval[string](b, `new URL(location.href).searchParams.get('tokens')`); got != strings.ReplaceAll(mine, " ", ",") {
		t.Errorf("circuits URL tokens %q: not carried on", got)
	}
	// A head picked on Circuits is the one Attention shows, on the same input.
	b.do("pick L0H3", chromedp.SetValue(chromedp.CSS("#head"), "0/3"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#head').dispatchEvent(new Event('change'))`))
	b.waitFor("L0H3", `new URL(location.href).searchParams.get('head') === 'L0H3'`, 10*time.Second)
	b.do("to attention", chromedp.Click(chromedp.CSS(`nav a[data-nav=attention]`)))
	b.waitFor("attention", `document.body.dataset.ready === 'attention' && document.body.dataset.tokens === '11'`, 60*time.Second)
	if title := eval[string](b, `document.querySelector('#focus-title').textContent`); !strings.Contains(title, "L0H3") {
		t.Errorf("attention focus %q after picking L0H3 on circuits", title)
	}
	b.noErrors()
}

// TestBrowserDemoExamples checks that the Attention page says what the
// demo was trained on and that its completion example shows the model
// doing it: every token of the cut repeat continued right.
func TestBrowserDemoExamples(t *testing.T) {
	b := newBrowser(t)
	b.openDrawn("attention", transformerPages[0].drawn)
	if got := eval[string](b, `document.querySelector('#trained-on').textContent`); !strings.Contains(got, "block of 10–20 distinct random tokens") {
		t.Errorf("trained-on note %q", got)
	}
	for _, seed := range []string{"1", "2", "3"} {
		b.do("seed", chromedp.SetValue(chromedp.CSS("#seed"), seed), chromedp.Evaluate[chromedp.Void](`delete document.body.dataset.continued`))
		b.do("example", chromedp.Click(chromedp.CSS("#continue-example")))
		b.waitFor("continued", `!!document.body.dataset.continued`, 30*time.Second)
		got := eval[string](b, `document.body.dataset.continued`)
		var right, n int
		fmt.Sscanf(got, "%d/%d", &right, &n)
		if n < 5 || right != n {
			t.Errorf("seed %s: the model continued %s of the repeat right, want all", seed, got)
		}
	}
	t.Logf("%s; screenshot %s", eval[string](b, `document.querySelector('#seq-info').textContent`), b.screenshot("attention-continue-example"))
	b.noErrors()
}

// TestBrowserCompositionScale draws the composition heatmaps of an
// untrained (random) model: its scores are near the random baseline, so
// no cell may be deeply coloured.
func TestBrowserCompositionScale(t *testing.T) {
	b := newBrowser(t)
	writeRun(t, b.dir, "untrained", transformer.Config{NLayers: 2, DModel: 64, NHeads: 4, DHead: 16, DVocab: 64, NCtx: 40, AttnOnly: true, Seed: 11})
	b.do("navigate", chromedp.Navigate(b.base+"/circuits?model=untrained"))
	b.waitFor("composition", `document.body.dataset.ready === 'circuits' && !!document.querySelector('[data-testid=comp-K] rect')`, 60*time.Second)
	// The strongest composition and the colour of every scored cell.
	res, err := http.Get(b.base + "/api/models/untrained/circuits")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Baseline  float64                   `json:"composition_baseline"`
		Strongest []struct{ Score float64 } `json:"strongest_compositions"`
	}
	err = json.NewDecoder(res.Body).Decode(&rep)
	res.Body.Close()
	if err != nil || len(rep.Strongest) == 0 {
		t.Fatalf("circuits report: %v, %d strongest compositions", err, len(rep.Strongest))
	}
	top := 0.0
	for _, s := range rep.Strongest {
		top = max(top, s.Score/rep.Baseline)
	}
	deep := eval[float64](b, `(() => {
		let deep = 0;
		for (const rect of document.querySelectorAll('[data-testid^=comp-] rect')) {
			const f = rect.getAttribute('fill');
			const m = /rgb\((\d+),\s*(\d+),\s*(\d+)\)/.exec(f);
			if (!m) continue;
			deep = Math.max(deep, 255 - Math.min(+m[1], +m[2], +m[3]));
		}
		return deep;
	})()`)
	if top > 1.5 {
		t.Fatalf("the untrained model's strongest composition is %.2f× the baseline: not a test of a near-baseline model", top)
	}
	// Full colour is 215 from white; a cell at 1.2× the baseline sits near 55.
	const paleMax = 100
	if deep > paleMax {
		t.Errorf("untrained model (strongest %.2f× baseline): a composition cell is %.0f from white, want ≤ %d", top, deep, paleMax)
	}
	t.Logf("strongest %.2f× baseline, deepest cell %.0f from white; screenshot %s", top, deep, b.screenshot("circuits-untrained"))
	b.noErrors()
}

// TestBrowserCircuitExplorerQK shows the positional QK circuit: keys after
// the query are masked, the top keys of position 0 are position 0 only,
// and no OV positivity is shown.
func TestBrowserCircuitExplorerQK(t *testing.T) {
	b := newBrowser(t)
	b.openDrawn("circuits", transformerPages[1].drawn)
	b.do("positional QK", chromedp.Click(chromedp.CSS(`input[name=kind][value=pos-qk]`)))
	b.waitFor("pos-qk", `document.querySelector('#row-title').textContent.includes('position 0')`, 30*time.Second)
	fills := eval[[]string](b, `(() => {
		const rects = document.querySelectorAll('[data-testid=matrix] g rect');
		return [rects[0 * 40 + 5].getAttribute('fill'), rects[10 * 40 + 3].getAttribute('fill')];
	})()`)
	if fills[0] != "#d9d9de" || fills[1] == "#d9d9de" {
		t.Errorf("query 0 × key 5 fill %s (want masked #d9d9de), query 10 × key 3 fill %s (want a value)", fills[0], fills[1])
	}
	if keys := eval[string](b, `Array.from(document.querySelectorAll('[data-testid=row-top] .tok')).map((e) => e.textContent).join(' ')`); keys != "0" {
		t.Errorf("position 0's top keys %q, want 0 alone", keys)
	}
	if p := eval[string](b, `document.querySelector('#positivity').textContent`); p != "" {
		t.Errorf("positional QK shows %q", p)
	}
	b.screenshot("circuits-pos-qk")
	b.noErrors()
}

// TestBrowserScoreNames checks that a head score's name says the data it
// was computed on, its tooltip defines it, and every score has two
// decimals.
func TestBrowserScoreNames(t *testing.T) {
	b := newBrowser(t)
	b.openDrawn("attention", transformerPages[0].drawn)
	twoDecimals := regexp.MustCompile(`^prev (\d\.\d\d|–) · pm (\d\.\d\d|–)$`)
	for _, s := range eval[[][]string](b, `Array.from(document.querySelectorAll('#grid .thumb[data-head^=L] .thumb-score')).map((e) => [e.textContent, e.title])`) {
		if !twoDecimals.MatchString(s[0]) || !strings.Contains(s[1], "on this input") || !strings.Contains(s[1], "prefix-matching") {
			t.Errorf("attention score %q, tooltip %q", s[0], s[1])
		}
	}
	b.openDrawn("circuits", transformerPages[1].drawn)
	for _, h := range eval[[][]string](b, `Array.from(document.querySelectorAll('#head-table th[title]')).map((e) => [e.textContent, e.title])`) {
		if strings.Contains(h[0], "prefix-matching") || strings.Contains(h[0], "prev-token") {
			if !strings.Contains(h[0], "(random repeats)") || !strings.Contains(h[1], "random block repeated") {
				t.Errorf("circuits score %q, tooltip %q: the data it is computed on is not said", h[0], h[1])
			}
		}
	}
	number := regexp.MustCompile(`^-?\d\.\d\d$`)
	for _, v := range eval[[]string](b, `Array.from(document.querySelectorAll('#head-table td.cell')).map((e) => e.textContent)`) {
		if !number.MatchString(v) {
			t.Errorf("circuits score cell %q: want two decimals", v)
		}
	}
	b.noErrors()
}

// TestBrowserLensPositions checks that the Lens page reports loss and
// accuracy over named position sets.
func TestBrowserLensPositions(t *testing.T) {
	b := newBrowser(t)
	b.openDrawn("lens", transformerPages[2].drawn)
	heads := eval[string](b, `Array.from(document.querySelectorAll('[data-testid=pos-table] th')).map((e) => e.textContent).join('|')`)
	for _, want := range []string{"loss · all 39 positions", "predictable", "accuracy · all 39"} {
		if !strings.Contains(heads, want) {
			t.Errorf("position table headers %q lack %q", heads, want)
		}
	}
	if info := eval[string](b, `document.querySelector('#eval-info').textContent`); !strings.Contains(info, "predictable positions (the second copy") {
		t.Errorf("eval note %q does not say which positions", info)
	}
	number := regexp.MustCompile(`^\d+\.\d{3,4}$`)
	for _, v := range eval[[]string](b, `Array.from(document.querySelectorAll('[data-testid=pos-table] td')).map((e) => e.textContent)`) {
		if !number.MatchString(v) {
			t.Errorf("position table value %q: want fixed decimals", v)
		}
	}
	if n := eval[int](b, `document.querySelectorAll('[data-testid=pos-loss] path.series').length`); n != 3 {
		t.Errorf("%d per-position loss series, want 3 points", n)
	}
	b.screenshot("lens-positions")
	b.noErrors()
}

// TestBrowserPatchingURL runs a sweep on the user's own sequences and
// loads its URL again: the same inputs come back and run.
func TestBrowserPatchingURL(t *testing.T) {
	b := newBrowser(t)
	b.openDrawn("patching", transformerPages[3].drawn)
	clean := eval[string](b, `document.querySelector('#clean').value`)
	corrupted := eval[string](b, `document.querySelector('#corrupted').value`)
	mine := strings.Fields(corrupted)
	mine[0], mine[1] = mine[1], mine[0]
	b.do("edit corrupted", chromedp.SetValue(chromedp.CSS("#corrupted"), strings.Join(mine, " ")),
		chromedp.SetValue(chromedp.CSS("#what"), "attn_out"), chromedp.Click(chromedp.CSS("#run")))
	b.waitFor("my sweep", `document.querySelector('#result-title').textContent.includes('attn_out') && document.querySelector('#note').textContent.startsWith('Your sequences')`, 30*time.Second)
	href := eval[string](b, `location.href`)
	b.do("reload", chromedp.Navigate(href))
	b.waitFor("restored", `document.body.dataset.ready === 'patching' && document.querySelector('#result-title').textContent.includes('attn_out')`, 60*time.Second)
	if got := eval[[]string](b, `[document.querySelector('#clean').value, document.querySelector('#corrupted').value]`); got[0] != clean || got[1] != strings.Join(mine, " ") {
		t.Errorf("after reload clean %q corrupted %q, want %q and %q", got[0], got[1], clean, strings.Join(mine, " "))
	}
	b.noErrors()
}
