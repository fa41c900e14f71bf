package web

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserFeatures opens the Features page on the demo: the embedded
// dictionary's feature list, a search by id and by top token, a feature's
// dashboard (contexts shaded by activation, histogram, logit bars, similar
// features, one of which opens), and the steering box.
func TestBrowserFeatures(t *testing.T) {
	b := newBrowser(t)
	b.open("features")
	b.waitFor("the list and a dashboard", `document.querySelectorAll('#feature-list tbody tr').length === 200 && !!document.body.dataset.feature && document.querySelectorAll('#contexts .piece').length > 0`, 30*time.Second)
	if nav := eval[string](b, `document.querySelector('a[data-nav=features]').getAttribute('aria-current')`); nav != "page" {
		t.Errorf("the Features nav entry is not current: %q", nav)
	}
	if opt := eval[string](b, `document.querySelector('#dict').value`); opt != "demo-sae" {
		t.Errorf("dictionary %q", opt)
	}

	// Search by id.
	setValues(b, map[string]string{"#search-by": "id", "#search": "17"})
	b.do("search by id", chromedp.Click("#search-run"))
	b.waitFor("one row", `document.querySelectorAll('#feature-list tbody tr').length === 1 && document.querySelector('#feature-list tbody tr').dataset.id === '17'`, 30*time.Second)

	// Search by a top token of the densest feature.
	setValues(b, map[string]string{"#search": ""})
	b.do("clear the search", chromedp.Click("#search-run"))
	b.waitFor("the full list", `document.querySelectorAll('#feature-list tbody tr').length === 200`, 30*time.Second)
	tok := eval[string](b, `document.querySelector('#feature-list tbody tr .toks .piece').textContent`)
	first := eval[string](b, `document.querySelector('#feature-list tbody tr').dataset.id`)
	setValues(b, map[string]string{"#search-by": "token", "#search": tok})
	b.do("search by token", chromedp.Click("#search-run"))
	b.waitFor("matches", `document.querySelector('#list-note').textContent.includes('matching token')`, 30*time.Second)
	if ids := eval[[]string](b, `Array.from(document.querySelectorAll('#feature-list tbody tr')).map(r => r.dataset.id)`); !contains(ids, first) {
		t.Errorf("search by token %s lists %v, not feature %s", tok, ids, first)
	}

	// Open a feature: its dashboard.
	b.do("open the feature", chromedp.Click(`#feature-list tbody tr[data-id="`+first+`"]`))
	b.waitFor("its dashboard", `document.body.dataset.feature === '`+first+`'`, 30*time.Second)
	peak := eval[float64](b, `Math.max(...Array.from(document.querySelectorAll('[data-testid=context-0] .piece')).map(p => +p.dataset.act))`)
	if peak <= 0 {
		t.Errorf("the top context's largest activation is %g", peak)
	}
	if n := eval[int](b, `document.querySelectorAll('[data-testid=hist-svg] rect.bar').length`); n != 20 {
		t.Errorf("%d histogram bars", n)
	}
	if n := eval[int](b, `document.querySelectorAll('[data-testid=logit-bars] .bar').length`); n != 20 {
		t.Errorf("%d logit bars", n)
	}
	sim := eval[string](b, `document.querySelector('#similar a').dataset.feature`)
	// (a click through the DOM: the list may be re-rendered between finding
	// the node and clicking it)
	eval[bool](b, `(document.querySelector('#similar a').click(), true)`)
	b.waitFor("the similar feature", `document.body.dataset.feature === '`+sim+`'`, 30*time.Second)

	// Steer along it: the steering box reports the change.
	setValues(b, map[string]string{"#steer-feature": first, "#steer-alpha": "200", "#steer-prompt": "3 9 12 3 9"})
	b.do("steer", chromedp.Click("#steer-run"))
	b.waitFor("the steering result", `document.body.dataset.steered === '`+first+`' && document.querySelectorAll('[data-testid=raised] li').length === 5`, 30*time.Second)
	summary := eval[string](b, `document.querySelector('[data-testid=steer-summary]').textContent`)
	if !strings.Contains(summary, "KL") || !strings.Contains(summary, "prompt loss") {
		t.Errorf("steering summary %q", summary)
	}
	if kl, _ := strconv.ParseFloat(strings.Fields(strings.SplitN(summary, "token ", 2)[1])[0], 64); !(kl > 0) {
		t.Errorf("steering with α 200 shows KL %q", summary)
	}
	t.Logf("screenshot: %s", b.screenshot("features"))
	b.noErrors()
}

// setValues sets form controls' values by selector.
func setValues(b *browser, vals map[string]string) {
	b.t.Helper()
	for sel, v := range vals {
		eval[bool](b, fmt.Sprintf(`(() => { document.querySelector(%q).value = %q; return true; })()`, sel, v))
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
