package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// hoverTestid moves the mouse to the centre of the first canvas inside the
// element with the given data-testid (scrolled into view).
func (b *browser) hoverTestid(testid string) {
	b.t.Helper()
	xy := eval[[]float64](b, fmt.Sprintf(`(() => {
		const c = document.querySelector('[data-testid=%q] canvas') || document.querySelector('canvas[data-testid=%q]');
		c.scrollIntoView({block: 'center'});
		const r = c.getBoundingClientRect();
		return [r.left + r.width / 2, r.top + r.height / 2];
	})()`, testid, testid))
	b.mouseTo(xy[0], xy[1])
}

// barsOK is a condition: every listed colour bar exists with tick labels.
func barsOK(testids ...string) string {
	cond := "true"
	for _, id := range testids {
		cond += fmt.Sprintf(` && (() => { const b = document.querySelector('[data-testid=%q]'); return !!b && b.querySelectorAll('.vbar-text').length >= 2; })()`, id)
	}
	return cond
}

const tipShown = `!document.querySelector('#tooltip').hidden`

// TestBrowserCNNVis: colour bars on the feature maps, saliency, integrated
// gradients, the maximised image and the top examples' maps; no tooltip
// left over after a redraw; activation maximisation rises from a random
// start; the unit gallery and a unit's top examples.
func TestBrowserCNNVis(t *testing.T) {
	b := newBrowser(t)
	b.open("cnn")
	b.waitFor("colour bars", barsOK("fm-bar", "saliency-bar", "ig-bar"), 30*time.Second)

	// Hover a feature map: a read-out; redraw (another hook point): gone.
	b.hoverTestid("fmap-2")
	b.waitFor("tooltip on hover", tipShown+` && document.querySelector('#tooltip').textContent.includes('conv1.hook_out c2')`, 10*time.Second)
	b.do("relu2", chromedp.SetValue(chromedp.CSS("#point"), "relu2.hook_out"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#point').dispatchEvent(new Event('change'))`))
	b.waitFor("relu2 maps", `document.querySelectorAll('#fmaps .fmap').length === 32`, 30*time.Second)
	if eval[bool](b, tipShown) {
		t.Errorf("the conv1 tooltip stayed over the relu2 feature maps")
	}

	// Activation maximisation from a random start.
	b.do("max", chromedp.SetValue(chromedp.CSS("#max-unit"), "4"), chromedp.SetValue(chromedp.CSS("#max-steps"), "64"),
		chromedp.Click(chromedp.CSS("#max-run")))
	b.waitFor("maximised", `document.body.dataset.maximized === 'relu2.hook_out:4' && !!document.querySelector('[data-testid=max-trace] path.series')`, 60*time.Second)
	b.waitFor("max bar", barsOK("max-bar"), 5*time.Second)
	rise := eval[float64](b, `+document.body.dataset.maxRise`)
	same := eval[bool](b, `document.querySelector('#max-start').toDataURL() === document.querySelector('#max-image').toDataURL()`)
	t.Logf("relu2 unit 4: activation rose by %.3f over 64 steps", rise)
	if rise <= 0.1 || same {
		t.Errorf("maximisation: the activation rose by %.3f, start and result identical %v", rise, same)
	}

	// The gallery of relu2, then a unit's top examples from it.
	b.do("gallery", chromedp.Click(chromedp.CSS("#gal-run")))
	b.waitFor("gallery", `document.body.dataset.gallery === 'relu2.hook_out:32' && document.querySelectorAll('#gallery .gal-unit').length === 32`, 90*time.Second)
	b.do("unit 7", chromedp.Click(chromedp.CSS(`[data-testid="gal-7"]`)))
	b.waitFor("top examples", `document.body.dataset.top === 'relu2.hook_out:7' && document.querySelectorAll('#top .top-ex').length === 9 && `+barsOK("top-bar"), 90*time.Second)
	t.Logf("top examples: %s; screenshot: %s", eval[string](b, `document.querySelector('#top-summary').textContent`), b.screenshot("cnn-vis"))
	b.noErrors()
}

// TestBrowserGANDissect: units ranked by IoU with a concept, a unit's maps
// over the samples with a colour bar marking the threshold, no stale
// tooltip, and an ablation of the top units shown before/after with a
// banner saying it is active.
func TestBrowserGANDissect(t *testing.T) {
	b := newBrowser(t)
	b.open("gan")
	b.waitFor("ranking", `document.querySelectorAll('#ranking .rank-row').length === 16`, 30*time.Second)
	ious := eval[[]float64](b, `Array.from(document.querySelectorAll('#ranking .rank-row')).map(r => +r.dataset.iou)`)
	for i := 1; i < len(ious); i++ {
		if ious[i] > ious[i-1] {
			t.Fatalf("ranking not sorted by IoU: %v", ious)
		}
	}
	b.do("unit maps", chromedp.Click(chromedp.CSS(`[data-testid="rank-0"]`)))
	b.waitFor("maps", `document.querySelectorAll('#unitmaps canvas').length === 32 && `+barsOK("umap-bar")+` && !!document.querySelector('[data-testid=umap-bar] .vbar-mark')`, 30*time.Second)
	b.hoverTestid("umap-3")
	b.waitFor("tooltip", tipShown, 10*time.Second)
	b.do("concept", chromedp.SetValue(chromedp.CSS("#concept"), "10"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#concept').dispatchEvent(new Event('change'))`))
	b.waitFor("sleeves", `document.body.dataset.dissect.endsWith(':10')`, 10*time.Second)
	if eval[bool](b, tipShown) {
		t.Errorf("a unit-map tooltip stayed after the ranking was redrawn")
	}
	if eval[bool](b, `!document.querySelector('#ablation-banner').hidden`) {
		t.Errorf("ablation banner shown with no ablation")
	}
	samples := eval[int](b, `+document.body.dataset.samples`)
	b.do("ablate top", chromedp.Click(chromedp.CSS("#ablate-top")))
	b.waitFor("after", fmt.Sprintf(`+document.body.dataset.samples > %d && !document.querySelector('#ablation-banner').hidden && !document.querySelector('#beforeafter').hidden && document.querySelectorAll('#before-grid canvas').length === 16 && document.querySelectorAll('#after-grid canvas').length === 16`, samples), 30*time.Second)
	t.Logf("%s; %s; screenshot: %s", eval[string](b, `document.querySelector('#banner-text').textContent`), eval[string](b, `document.querySelector('#ba-counts').textContent`), b.screenshot("gan-dissect"))
	b.do("remove", chromedp.Click(chromedp.CSS("#banner-clear")))
	b.waitFor("no ablation", `document.querySelector('#ablation-banner').hidden && document.querySelector('#beforeafter').hidden`, 30*time.Second)
	b.noErrors()
}

// TestBrowserVisLayout: the CNN and GAN pages' content (main) fits 1,440
// px and 390 px without horizontal scrolling. The site header (nav, model
// picker) is the shared layout's, measured separately: its overflow at
// 390 px is logged, not failed here (the layout's own test owns it).
func TestBrowserVisLayout(t *testing.T) {
	b := newBrowser(t)
	for _, w := range []int64{1440, 390} {
		for _, page := range []string{"cnn", "gan"} {
			b.do("viewport", chromedp.EmulateViewport(w, 900))
			b.open(page)
			// Open every panel that is shown on demand.
			if page == "cnn" {
				b.do("gallery", chromedp.Click(chromedp.CSS("#gal-run")))
				b.waitFor("gallery", `document.querySelectorAll('#gallery .gal-unit').length === 16`, 90*time.Second)
				b.do("top", chromedp.Click(chromedp.CSS("#top-run")))
				b.waitFor("top", `document.querySelectorAll('#top .top-ex').length === 9`, 90*time.Second)
			} else {
				b.do("ablate top", chromedp.Click(chromedp.CSS("#ablate-top")))
				b.waitFor("after", `!document.querySelector('#beforeafter').hidden`, 30*time.Second)
				b.do("unit maps", chromedp.Click(chromedp.CSS(`[data-testid="rank-0"]`)))
				b.waitFor("maps", `document.querySelectorAll('#unitmaps canvas').length === 32`, 30*time.Second)
			}
			got := eval[[]float64](b, `(() => {
				let right = 0;
				for (const e of document.querySelectorAll('main *')) if (!e.closest('[hidden]')) right = Math.max(right, e.getBoundingClientRect().right + window.scrollX);
				return [right, window.innerWidth, document.documentElement.scrollWidth, document.querySelector('main').scrollWidth, document.querySelector('main').clientWidth];
			})()`)
			wide := eval[[]string](b, `Array.from(document.querySelectorAll('main *')).filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('[hidden]')).slice(0, 6).map(e => e.tagName + '#' + e.id + '.' + e.className)`)
			if got[0] > got[1]+1 || got[3] > got[4]+1 {
				t.Errorf("%s at %d px: main content reaches %v px in a %v px window (main scrolls %v of %v); too wide: %v", page, w, got[0], got[1], got[3], got[4], wide)
			}
			t.Logf("%s at %d px: main content right edge %v, document scrollWidth %v (header included), window %v; screenshot %s",
				page, w, got[0], got[2], got[1], b.screenshot(fmt.Sprintf("%s-%d", page, w)))
		}
	}
	b.noErrors()
}
