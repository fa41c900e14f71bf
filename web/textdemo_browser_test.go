package web

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// textDemoShots is where TestBrowserTextDemo leaves its screenshots.
const textDemoShots = "/tmp/textdemo-shots"

// shot saves a screenshot under textDemoShots too.
func (b *browser) shot(name string) string {
	b.t.Helper()
	path := b.screenshot(name)
	png, err := os.ReadFile(path)
	if err == nil && os.MkdirAll(textDemoShots, 0o755) == nil {
		os.WriteFile(filepath.Join(textDemoShots, name+".png"), png, 0o644)
	}
	return filepath.Join(textDemoShots, name+".png")
}

// fits fails the test when the document scrolls sideways.
func (b *browser) fits(what string) {
	b.t.Helper()
	got := eval[[]float64](b, `[document.documentElement.scrollWidth, window.innerWidth]`)
	if got[0] > got[1]+1 {
		wide := eval[[]string](b, `Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('[hidden]')).slice(0, 6).map(e => e.tagName + '#' + e.id + '.' + e.className)`)
		b.t.Errorf("%s: the document is %v px wide in a %v px window; too wide: %v", what, got[0], got[1], wide)
	}
}

// TestBrowserTextDemo opens "/" as a first visit does: the Attention page
// on the text demo, its example line prefilled, its one-line description,
// the example buttons, and its induction head in focus. It types a new line
// with another name said twice and reads, from the token strip, the
// attention the focused head pays from each token of the second occurrence
// (after its first) to the token after the matching one in the first
// occurrence: at least minInductionAttention on average, the positions
// computed here from the text with the tokenizer. The page must not scroll
// sideways at 1,440 or 390 px. Then the Training page opens on the text
// demo's run: the ICL curve, the prefix-matching heatmap, the loss with the
// phase change marked.
func TestBrowserTextDemo(t *testing.T) {
	b := newBrowser(t)
	m, err := b.srv.models.get(textDemoName)
	if err != nil {
		t.Fatal(err)
	}
	ih := m.inductionHead
	for _, w := range []int64{1440, 390} {
		b.do("viewport", chromedp.EmulateViewport(w, 900))
		b.do("open /", chromedp.Navigate(b.base+"/"))
		b.waitFor("attention on the text demo", `document.body.dataset.ready === 'attention' && document.querySelector('#model').value === 'shakespeare' && !!document.querySelector('[data-testid=zoom] rect')`, 90*time.Second)
		if got := eval[string](b, `document.querySelector('#prompt').value`); got != m.examples[0] {
			t.Errorf("at %d px the prompt holds %q, want the first example %q", w, got, m.examples[0])
		}
		if about := eval[string](b, `document.querySelector('#about').textContent`); !strings.Contains(about, m.about[1:]) || !strings.Contains(about, ih.Label) {
			t.Errorf("about line %q lacks %q or the head %s", about, m.about, ih.Label)
		}
		if n := eval[int](b, `document.querySelectorAll('#examples button.example').length`); n != len(m.examples) {
			t.Errorf("%d example buttons, want %d", n, len(m.examples))
		}
		if title := eval[string](b, `document.querySelector('#focus-title').textContent`); !strings.HasSuffix(title, ih.Label) {
			t.Errorf("focus %q, want the induction head %s", title, ih.Label)
		}
		time.Sleep(300 * time.Millisecond)
		b.fits(fmt.Sprintf("attention at %d px", w))
		t.Logf("screenshot %s", b.shot(fmt.Sprintf("attention-%d", w)))
	}

	line := "Fetch Escalus from the garden, for Escalus has the key to the gate."
	enc, name, one, two := nameTokens(t, m, line)
	b.typePrompt("#prompt", "#prompt-run", line)
	b.waitFor("the typed line", fmt.Sprintf(`document.body.dataset.ready === 'attention' && document.querySelectorAll('#pieces .piece').length >= %d && document.querySelector('#seq-info').textContent.startsWith('your text')`, len(enc.IDs)), 30*time.Second)
	shift := eval[int](b, `document.querySelectorAll('#pieces .piece').length`) - len(enc.IDs) // a BOS the page added
	if shift != 0 && shift != 1 {
		t.Fatalf("the page shows %d tokens for %d", len(enc.IDs)+shift, len(enc.IDs))
	}
	if title := eval[string](b, `document.querySelector('#focus-title').textContent`); !strings.HasSuffix(title, ih.Label) {
		t.Errorf("focus %q after typing, want the induction head %s", title, ih.Label)
	}
	sum := 0.0
	var got []string
	for j := 1; j < len(two); j++ {
		q, k := two[j]+shift, one[j]+1+shift
		v := eval[string](b, fmt.Sprintf(`(() => {
			document.querySelector('#strip .chip[data-pos="%d"]').dispatchEvent(new MouseEvent('mouseenter', {clientX: 10, clientY: 10}));
			return document.querySelector('#strip .chip[data-pos="%d"] .chip-val').textContent;
		})()`, q, k))
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("position %d's attention to %d reads %q on the strip", q, k, v)
		}
		sum += f
		got = append(got, fmt.Sprintf("%d→%d %s", q, k, v))
	}
	eval[bool](b, `(document.querySelector('#strip .chip.current').dispatchEvent(new MouseEvent('mouseleave')), true)`)
	mean := sum / float64(len(two)-1)
	t.Logf("%q: %s attends from the second %q to the token after the first: %s; mean %.3f", line, ih.Label, name, strings.Join(got, ", "), mean)
	// the strip shows the model's numbers (two decimals each)
	if want := inductionAttention(t, m, line, ih.Layer, ih.Head); shift == 0 && math.Abs(mean-want) > 0.006 {
		t.Errorf("the strip's mean %.3f is not the model's %.3f", mean, want)
	}
	if mean < minInductionAttention {
		t.Errorf("on %q the page shows %s putting %.3f of its attention on the induction targets, want at least %.1f", line, ih.Label, mean, minInductionAttention)
	}
	b.fits("attention after typing at 390 px")
	t.Logf("screenshot %s", b.shot("attention-typed-390"))
	b.do("viewport", chromedp.EmulateViewport(1440, 900))
	t.Logf("screenshot %s", b.shot("attention-typed-1440"))

	// the Training page opens on the text demo's run
	b.do("open training", chromedp.Navigate(b.base+"/training"))
	b.waitFor("the text demo's run", `document.body.dataset.ready === 'training' && document.querySelector('#run').value === 'shakespeare' && document.body.dataset.rendered === 'shakespeare:' + document.body.dataset.records`, 60*time.Second)
	for id, want := range map[string]bool{"icl-chart": true, "pm-block": true, "loss-chart": true} {
		if got := eval[bool](b, fmt.Sprintf(`!document.querySelector('#%s').hidden`, id)); got != want {
			t.Errorf("#%s visible %v, want %v on the text demo's run", id, got, want)
		}
	}
	if n := eval[int](b, `document.querySelectorAll('[data-testid=pm-heatmap] rect').length`); n < 2*m.m.Cfg.NLayers*m.m.Cfg.NHeads {
		t.Errorf("prefix-matching heatmap has %d cells", n)
	}
	if marks := eval[string](b, `Array.from(document.querySelectorAll('[data-testid=loss] .marker-text')).map(x => x.textContent).join('|')`); !strings.Contains(marks, "phase change") {
		t.Errorf("the loss chart marks %q, want the phase change", marks)
	}
	b.fits("training at 1440 px")
	t.Logf("screenshot %s", b.shot("training-1440"))
	b.noErrors()
}

// TestBrowserTextDemoPages opens every page that takes a transformer as a
// first visit does, on the text demo: each renders without a page error,
// or says in its error box why it cannot work with this model; none
// scrolls sideways at 390 px.
func TestBrowserTextDemoPages(t *testing.T) {
	b := newBrowser(t)
	for _, w := range []int64{1440, 390} {
		b.do("viewport", chromedp.EmulateViewport(w, 900))
		for _, page := range []string{"attention", "circuits", "lens", "patching", "discovery", "features"} {
			b.do("open "+page, chromedp.Navigate(b.base+"/"+page))
			b.waitFor(page+" on the text demo", fmt.Sprintf(`(document.body.dataset.ready === %q || !document.querySelector('#error').hidden) && document.querySelector('#model').value === 'shakespeare'`, page), 90*time.Second)
			time.Sleep(300 * time.Millisecond)
			if msg := eval[string](b, `document.querySelector('#error').hidden ? '' : document.querySelector('#error').textContent`); msg != "" {
				t.Errorf("%s at %d px on the text demo: %s", page, w, msg)
			}
			if page == "attention" || page == "lens" {
				if got := eval[string](b, `document.querySelector('#prompt').value`); got != textDemoExamples()[0] {
					t.Errorf("%s opens on %q, want the first example line", page, got)
				}
			}
			b.fits(fmt.Sprintf("%s at %d px", page, w))
			t.Logf("%s at %d px: screenshot %s", page, w, b.shot(fmt.Sprintf("%s-%d", page, w)))
			b.noErrors()
		}
	}
}
