package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserEveryPageFits opens every page of the navigation, as a first
// visit leaves it, at 1,440 px and on a 390 px phone, and fails when the
// document scrolls sideways: figures too wide scroll inside their own box,
// never the page. The pages' own layout tests also open their on-demand
// panels; this one catches a page nobody measured.
func TestBrowserEveryPageFits(t *testing.T) {
	b := newBrowser(t)
	for _, w := range []int64{1440, 390} {
		b.do("viewport", chromedp.EmulateViewport(w, 900))
		for _, p := range pages {
			b.open(p.Name)
			// Let the first figures draw after the page says it is ready.
			time.Sleep(300 * time.Millisecond)
			got := eval[[]float64](b, `[document.documentElement.scrollWidth, window.innerWidth]`)
			if got[0] > got[1]+1 {
				wide := eval[[]string](b, `Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('[hidden]')).slice(0, 6).map(e => e.tagName + '#' + e.id + '.' + e.className)`)
				t.Errorf("%s at %d px: the document is %v px wide in a %v px window; too wide: %v (screenshot %s)",
					p.Name, w, got[0], got[1], wide, b.screenshot(fmt.Sprintf("fit-%s-%d", p.Name, w)))
			}
		}
	}
	b.noErrors()
}
