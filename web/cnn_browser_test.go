package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserCNN loads the CNN page with the embedded classifier, checks
// every panel, ablates a channel by clicking it and sees the probabilities
// change, switches hook point, runs activation maximisation, and saves
// screenshots.
func TestBrowserCNN(t *testing.T) {
	b := newBrowser(t)
	b.open("cnn")
	b.waitFor("panels", `document.querySelectorAll('#probs .prob-row').length === 10 &&
		document.querySelectorAll('#fmaps .fmap').length === 16 &&
		document.querySelectorAll('#samples canvas').length === 32 &&
		!!document.querySelector('[data-testid=bn-mean] path.series') &&
		document.querySelector('#completeness').dataset.error !== undefined`, 30*time.Second)
	if title := eval[string](b, `document.title`); !strings.HasPrefix(title, "CNN") {
		t.Errorf("title %q", title)
	}
	if e := eval[float64](b, `+document.querySelector('#completeness').dataset.error`); e > 0.05 {
		t.Errorf("integrated gradients' completeness error %v on the page", e)
	}
	probs := func() []float64 {
		return eval[[]float64](b, `Array.from(document.querySelectorAll('#probs .prob-row')).map(r => +r.dataset.p)`)
	}
	before := probs()
	runs := eval[string](b, `document.body.dataset.runs`)

	// Ablate channel 3 of conv1 by clicking it.
	b.do("click channel 3", chromedp.Click(chromedp.CSS(`[data-testid="fmap-3"]`)))
	b.waitFor("rerun", `document.body.dataset.runs !== '`+runs+`' && document.querySelector('[data-testid="fmap-3"]').classList.contains('ablated')`, 30*time.Second)
	after := probs()
	clean := eval[[]float64](b, `Array.from(document.querySelectorAll('#probs .prob-row')).map(r => +r.dataset.clean)`)
	changed := false
	for i := range before {
		changed = changed || after[i] != before[i]
		if clean[i] != before[i] {
			t.Errorf("class %d: the unablated probability %v is not the one before the click, %v", i, clean[i], before[i])
		}
	}
	if !changed {
		t.Errorf("ablating conv1 channel 3 left the probabilities at %v", after)
	}
	if got := eval[string](b, `document.querySelector('#ablated').textContent`); !strings.Contains(got, "conv1.hook_out [3]") {
		t.Errorf("ablation list %q", got)
	}
	t.Logf("probabilities %v → %v; screenshot: %s", before, after, b.screenshot("cnn-ablated"))

	// Another hook point, another sample, and a unit visualised.
	b.do("relu2", chromedp.SetValue(chromedp.CSS("#point"), "relu2.hook_out"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#point').dispatchEvent(new Event('change'))`))
	b.waitFor("relu2 maps", `document.querySelectorAll('#fmaps .fmap').length === 32`, 30*time.Second)
	b.do("max", chromedp.SetValue(chromedp.CSS("#max-unit"), "5"), chromedp.SetValue(chromedp.CSS("#max-steps"), "60"),
		chromedp.Click(chromedp.CSS("#max-run")))
	b.waitFor("maximised", `document.body.dataset.maximized === 'relu2.hook_out:5' && !!document.querySelector('[data-testid=max-trace] path.series')`, 60*time.Second)
	runs = eval[string](b, `document.body.dataset.runs`)
	b.do("sample 1", chromedp.Click(chromedp.CSS(`#samples canvas[data-i="1"]`)))
	b.waitFor("sample 1", `document.body.dataset.runs !== '`+runs+`' && document.querySelector('#input-label').textContent.includes('Trouser')`, 30*time.Second)
	t.Logf("screenshot: %s", b.screenshot("cnn"))

	// Figure downloads: features, attribution, BatchNorm, maximisation.
	if hrefs := b.checkDownloads(); len(hrefs) != 8 {
		t.Errorf("%d figure download links, want 8", len(hrefs))
	}
	b.noErrors()
}
