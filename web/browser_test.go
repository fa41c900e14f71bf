package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mechinterp/workbench/transformer"
)

// The browser tests drive Debian's chromium through chromedp. Without
// chromium they skip (needInstalled), unless CI=true, where they fail: CI
// installs it.
// Set WORKBENCH_SCREENSHOTS=DIR to keep the screenshots (they are always
// written under the test's temporary directory too).

// browserTimeout bounds one browser test.
const browserTimeout = 3 * time.Minute

// findChromium returns the chromium binary, or "".
func findChromium() string {
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless chromium tab on a test server, collecting the
// page's console errors, uncaught exceptions and error log entries (failed
// loads, CSP violations).
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	srv  *Server
	dir  string

	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	s, dir := newTestServer(t)
	return newBrowserOn(t, s, dir)
}

// newBrowserOn is newBrowser on the dashboard s, whose runs folder is dir.
func newBrowserOn(t *testing.T, s *Server, dir string) *browser {
	t.Helper()
	path := findChromium()
	if path == "" {
		needInstalled(t, "chromium", fmt.Errorf("no chromium, chromium-browser or /usr/bin/chromium on PATH: %w", fs.ErrNotExist))
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, browserTimeout)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	b := &browser{t: t, ctx: ctx, base: srv.URL, srv: s, dir: dir}
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				msg = "console.error: " + strings.Join(parts, " ")
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg = fmt.Sprintf("uncaught exception: %s", d.Text)
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				msg = fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errors = append(b.errors, msg)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return b
}

// do runs actions, failing the test on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its result.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it is true.
func (b *browser) waitFor(what, cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s (%s): timed out after %v (last error %v); page errors: %v", what, cond, timeout, err, b.errors)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// open loads a page on the synthetic demo (the model, and on the Training
// page the run; the text demo is the default) and waits until its script
// says it is ready.
func (b *browser) open(page string) {
	b.t.Helper()
	b.do("navigate to "+page, chromedp.Navigate(b.base+"/"+page+"?model=demo&run=demo"))
	b.waitFor(page+" ready", fmt.Sprintf(`document.body.dataset.ready === %q`, page), 90*time.Second)
}

// screenshot saves a full-page PNG under the test's temporary directory
// (and WORKBENCH_SCREENSHOTS, if set) and returns its path.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(b.t.TempDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if dir := os.Getenv("WORKBENCH_SCREENSHOTS"); dir != "" {
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	if len(png) < 10_000 {
		b.t.Errorf("screenshot %s is only %d bytes: an empty page?", name, len(png))
	}
	return path
}

// noErrors fails the test if the page logged errors.
func (b *browser) noErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("page error: %s", e)
	}
	b.errors = nil
}

// checkDownloads fetches every visible figure download link of the page,
// failing the test unless each answers an image, and returns the links.
func (b *browser) checkDownloads() []string {
	b.t.Helper()
	hrefs := eval[[]string](b, `Array.from(document.querySelectorAll('.fig-links:not([hidden]) a')).map(a => a.href)`)
	for _, h := range hrefs {
		res, err := http.Get(h)
		if err != nil {
			b.t.Fatal(err)
		}
		res.Body.Close()
		if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || !strings.HasPrefix(ct, "image/") {
			b.t.Errorf("download %s: %d %s", h, res.StatusCode, ct)
		}
	}
	return hrefs
}

// mouseTo moves the mouse to viewport coordinates.
func (b *browser) mouseTo(x, y float64) {
	b.t.Helper()
	b.do("move the mouse", chromedp.MouseEvent(chromedp.MouseMoved, x, y))
}

// cellCenter returns the viewport coordinates of cell (row, col) of the
// heatmap with the given data-testid, scrolling it into view.
func (b *browser) cellCenter(testid string, row, col int) (float64, float64) {
	b.t.Helper()
	xy := eval[[]float64](b, fmt.Sprintf(`(() => {
		const n = document.querySelector('[data-testid=%q]');
		n.scrollIntoView({block: 'center'});
		const r = n.getBoundingClientRect(), c = +n.dataset.cell;
		return [r.left + +n.dataset.left + (%d + 0.5) * c, r.top + +n.dataset.top + (%d + 0.5) * c];
	})()`, testid, col, row))
	return xy[0], xy[1]
}

// TestBrowserPages loads every page with the demo model and checks that it
// renders its main figure without console errors.
func TestBrowserPages(t *testing.T) {
	b := newBrowser(t)
	for _, tc := range []struct{ page, check string }{
		{"attention", `document.querySelectorAll('#grid .thumb').length === 9 && !!document.querySelector('[data-testid=zoom] rect')`},
		{"circuits", `!!document.querySelector('[data-testid=comp-K]') && document.querySelectorAll('#head-table tbody tr').length === 8 && document.querySelectorAll('[data-testid=eigen] circle').length > 0 && document.querySelectorAll('[data-testid=row-top] .bar').length > 0`},
		{"lens", `document.querySelectorAll('[data-testid=logit-table] tbody tr').length === 3 && document.querySelectorAll('[data-testid=tuned-table] tbody tr').length === 3 && !!document.querySelector('[data-testid=lens-kl] path.series')`},
		{"patching", `!!document.querySelector('[data-testid=patch] rect') && document.querySelector('#summary').textContent.includes('clean')`},
		{"training", `+document.body.dataset.records > 100 && document.querySelector('[data-testid=loss] path.series').dataset.n > 100 && document.querySelectorAll('[data-testid=ind] [data-testid=marker]').length === 1`},
	} {
		t.Run(tc.page, func(t *testing.T) {
			b.t = t
			b.open(tc.page)
			b.waitFor(tc.page+" content", tc.check, 30*time.Second)
			if title := eval[string](b, `document.title`); !strings.HasPrefix(title, strings.ToUpper(tc.page[:1])+tc.page[1:]) {
				t.Errorf("title %q", title)
			}
			// Every figure has working PNG and SVG downloads.
			hrefs := b.checkDownloads()
			if len(hrefs) < 2 {
				t.Errorf("%d figure download links", len(hrefs))
			}
			t.Logf("%d figure downloads; screenshot: %s", len(hrefs), b.screenshot(tc.page))
			b.noErrors()
		})
	}
}

// TestBrowserAttention hovers a pattern cell and reads its tooltip, checks
// the value against the API, and locks and unlocks a head.
func TestBrowserAttention(t *testing.T) {
	b := newBrowser(t)
	b.open("attention")
	// Lock L0H1 by clicking its thumbnail.
	b.do("click L0H1", chromedp.Click(chromedp.CSS(`#grid .thumb[data-head="L0H1"]`)))
	b.waitFor("L0H1 locked", `document.querySelector('#grid .thumb[data-head="L0H1"]').classList.contains('locked') && !document.querySelector('#lock-state').hidden`, 5*time.Second)
	if title := eval[string](b, `document.querySelector('#focus-title').textContent`); !strings.Contains(title, "L0H1") {
		t.Errorf("focus title %q after locking L0H1", title)
	}
	// Hovering another head does not move a locked focus.
	other := eval[[]float64](b, `(() => { const r = document.querySelector('#grid .thumb[data-head="L1H2"]').getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`)
	b.mouseTo(other[0], other[1])
	time.Sleep(100 * time.Millisecond)
	if title := eval[string](b, `document.querySelector('#focus-title').textContent`); !strings.Contains(title, "L0H1") {
		t.Errorf("focus title %q: hovering L1H2 moved the locked focus", title)
	}

	// Hover cell (dest 12, src 11) of the zoomed pattern.
	const dest, src = 12, 11
	x, y := b.cellCenter("zoom", dest, src)
	b.mouseTo(x, y)
	b.waitFor("tooltip", `!document.querySelector('#tooltip').hidden`, 5*time.Second)
	tip := eval[string](b, `document.querySelector('#tooltip').innerText`)
	tokens := eval[[]int](b, `document.querySelector('#tokens').value.trim().split(/\s+/).map(Number)`)
	for _, want := range []string{"L0H1", fmt.Sprintf("pos %d · token %d", dest, tokens[dest]), fmt.Sprintf("pos %d · token %d", src, tokens[src]), "attention"} {
		if !strings.Contains(tip, want) {
			t.Errorf("tooltip %q does not contain %q", tip, want)
		}
	}
	// The value shown is the API's.
	q := make([]string, len(tokens))
	for i, v := range tokens {
		q[i] = fmt.Sprint(v)
	}
	res, err := http.Get(b.base + "/api/models/demo/attention?tokens=" + strings.Join(q, ","))
	if err != nil {
		t.Fatal(err)
	}
	var att struct{ Patterns [][][][]float64 }
	json.NewDecoder(res.Body).Decode(&att)
	res.Body.Close()
	if want := fmt.Sprintf("%.4f", att.Patterns[0][1][dest][src]); !strings.Contains(tip, want) {
		t.Errorf("tooltip %q does not show the API's value %s", tip, want)
	}
	// The token strip shows the attention the hovered row pays.
	b.waitFor("token strip", fmt.Sprintf(`document.querySelector('#strip .chip.current').dataset.pos === '%d'`, dest), 5*time.Second)
	chip := eval[string](b, fmt.Sprintf(`document.querySelector('#strip .chip[data-pos="%d"] .chip-val').textContent`, src))
	if want := fmt.Sprintf("%.2f", att.Patterns[0][1][dest][src]); chip != want {
		t.Errorf("token strip shows %q for position %d, want %s", chip, src, want)
	}
	t.Logf("tooltip: %q", tip)
	t.Logf("screenshot: %s", b.screenshot("attention-hover"))

	// Max over heads, then unlock by clicking the locked head again.
	b.do("click max", chromedp.Click(chromedp.CSS(`#grid .thumb[data-head="max"]`)))
	b.waitFor("max locked", `document.querySelector('#focus-title').textContent.includes('max over heads')`, 5*time.Second)
	b.do("click max again", chromedp.Click(chromedp.CSS(`#grid .thumb[data-head="max"]`)))
	b.waitFor("unlocked", `document.querySelector('#lock-state').hidden && !document.querySelector('#grid .thumb.locked')`, 5*time.Second)
	b.noErrors()
}

// TestBrowserTraining starts a short training from the page and watches
// its curves grow over server-sent events until it finishes.
func TestBrowserTraining(t *testing.T) {
	b := newBrowser(t)
	b.open("training")
	b.do("set steps", chromedp.SetValue(chromedp.CSS("#steps"), "200"))
	b.do("train", chromedp.Click(chromedp.CSS("#train")))
	b.waitFor("a live run", `document.querySelector('#run').value.startsWith('induction-') && document.querySelector('#status').textContent.includes('training')`, 30*time.Second)
	// The loss curve grows while the training runs.
	seen := map[string]bool{}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		n := eval[string](b, `(() => { const p = document.querySelector('[data-testid=loss] path.series'); return p ? p.dataset.n : '0'; })()`)
		seen[n] = true
		if eval[bool](b, `document.querySelector('#status').textContent.startsWith('finished')`) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	status := eval[string](b, `document.querySelector('#status').textContent`)
	if !strings.HasPrefix(status, "finished: step 200") {
		t.Fatalf("status %q, want finished at step 200", status)
	}
	if n := eval[string](b, `document.querySelector('[data-testid=loss] path.series').dataset.n`); n != "20" {
		t.Errorf("loss curve has %s points after 200 steps, want 20 (one per 10 steps)", n)
	}
	if len(seen) < 3 {
		t.Errorf("the loss curve took %d distinct lengths while training (%v); want it to grow live", len(seen), seen)
	}
	t.Logf("loss curve lengths seen live: %d; status %q", len(seen), status)
	t.Logf("screenshot: %s", b.screenshot("training-live"))
	// Its checkpoints are listed, the final model first, each opening on the other pages.
	b.waitFor("checkpoints listed", `document.querySelectorAll('#ckpt-list li').length >= 2 && document.querySelector('#ckpt-list li a[data-page=attention]').getAttribute('href').startsWith('/attention?model=induction-')`, 10*time.Second)
	// The finished run is now listed as a model.
	runs := eval[string](b, `Array.from(document.querySelectorAll('#run option')).map(o => o.textContent).join('|')`)
	if !strings.Contains(runs, "induction-") || !strings.Contains(runs, "finished") {
		t.Errorf("runs list %q", runs)
	}
	b.noErrors()
}

// TestBrowserChart checks a training chart's hover read-out, drag-to-zoom,
// double-click reset and log axis on the demo run.
func TestBrowserChart(t *testing.T) {
	b := newBrowser(t)
	b.open("training")
	b.waitFor("demo curves", `document.querySelector('[data-testid=loss] path.series').dataset.n > 100`, 30*time.Second)
	box := eval[[]float64](b, `(() => {
		const o = document.querySelector('[data-testid=loss] .overlay');
		o.scrollIntoView({block: 'center'});
		const r = o.getBoundingClientRect();
		return [r.left, r.top, r.width, r.height];
	})()`)
	x0, y0, w, h := box[0], box[1], box[2], box[3]
	b.mouseTo(x0+w/2, y0+h/2)
	b.waitFor("read-out", `!document.querySelector('#tooltip').hidden && document.querySelectorAll('[data-testid=loss] .hover-dot').length === 2`, 5*time.Second)
	tip := eval[string](b, `document.querySelector('#tooltip').innerText`)
	for _, want := range []string{"step", "train loss", "eval loss"} {
		if !strings.Contains(tip, want) {
			t.Errorf("read-out %q does not contain %q", tip, want)
		}
	}
	t.Logf("read-out: %q", tip)
	// Drag across the middle third to zoom in.
	b.do("drag to zoom",
		chromedp.MouseEvent(chromedp.MousePressed, x0+w/3, y0+h/2, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseMoved, x0+w/2, y0+h/2, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseReleased, x0+2*w/3, y0+h/2, chromedp.ButtonLeft))
	b.waitFor("zoomed", `!document.querySelector('#loss-chart .chart-tools button').hidden`, 5*time.Second)
	ticks := eval[string](b, `Array.from(document.querySelectorAll('[data-testid=loss] text.tick')).map(t => t.textContent).join(' ')`)
	if strings.Contains(ticks, "2000") {
		t.Errorf("after zooming into the middle third the x ticks %q still reach step 2000", ticks)
	}
	b.screenshot("chart-zoomed")
	b.do("double-click to reset", chromedp.MouseClickXY(x0+w/2, y0+h/2, chromedp.ClickCount(2)))
	b.waitFor("reset", `document.querySelector('#loss-chart .chart-tools button').hidden`, 5*time.Second)
	// Log x axis.
	b.do("log x", chromedp.Click(chromedp.CSS(`#loss-chart .chart-tools input`)))
	b.waitFor("log x", `document.querySelector('[data-testid=loss] text.axis-label').textContent === 'step (log)'`, 5*time.Second)
	b.noErrors()
}

// TestBrowserLargeGrids opens a run's model whose grids exceed 64×64
// cells, so the heatmaps draw on a canvas, and hovers a canvas cell.
func TestBrowserLargeGrids(t *testing.T) {
	b := newBrowser(t)
	writeRun(t, b.dir, "wide", transformer.Config{NLayers: 1, DModel: 32, NHeads: 2, DHead: 16, DVocab: 100, NCtx: 80, AttnOnly: true, Seed: 3})
	b.do("navigate", chromedp.Navigate(b.base+"/attention?model=wide"))
	b.waitFor("attention ready", `document.body.dataset.ready === 'attention' && document.querySelector('#model').value === 'wide'`, 60*time.Second)
	b.waitFor("canvas pattern", `!!document.querySelector('[data-testid=zoom] canvas.hm-canvas') && document.querySelector('#tokens').value.split(' ').length === 80`, 10*time.Second)
	x, y := b.cellCenter("zoom", 70, 3)
	b.mouseTo(x, y)
	b.waitFor("tooltip", `document.querySelector('#tooltip').innerText.includes('pos 70') && document.querySelector('#tooltip').innerText.includes('pos 3 ')`, 5*time.Second)
	b.screenshot("attention-canvas")

	b.do("navigate", chromedp.Navigate(b.base+"/circuits?model=wide"))
	b.waitFor("circuits ready", `document.body.dataset.ready === 'circuits'`, 60*time.Second)
	b.waitFor("canvas circuit", `!!document.querySelector('[data-testid=matrix] canvas.hm-canvas')`, 10*time.Second)
	x, y = b.cellCenter("matrix", 5, 7)
	b.mouseTo(x, y)
	b.waitFor("tooltip", `document.querySelector('#tooltip').innerText.includes('row (token) 5') && document.querySelector('#tooltip').innerText.includes('column (token) 7')`, 5*time.Second)
	if got := eval[string](b, `document.querySelector('#composition').textContent`); !strings.Contains(got, "one-layer") {
		t.Errorf("composition of a one-layer model: %q", got)
	}
	b.screenshot("circuits-canvas")
	b.noErrors()
}
