package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserGAN loads the GAN page with the embedded DCGAN, picks two
// samples as the walk's ends, ablates generator units and sees the grid
// change, and saves screenshots.
func TestBrowserGAN(t *testing.T) {
	b := newBrowser(t)
	b.open("gan")
	b.waitFor("panels", `document.querySelectorAll('#grid .gan-cell').length === 32 &&
		document.querySelectorAll('#walk-linear .walk-step').length === 10 &&
		document.querySelectorAll('#walk-spherical .walk-step').length === 10 &&
		document.querySelectorAll('[data-testid=z-norm] path.series').length === 2`, 30*time.Second)
	if title := eval[string](b, `document.title`); !strings.HasPrefix(title, "GAN") {
		t.Errorf("title %q", title)
	}
	// Choose samples 4 and 9 as the ends of the walk.
	b.do("click 4", chromedp.Click(chromedp.CSS(`[data-testid="sample-4"]`)))
	b.waitFor("A = 4", `document.body.dataset.walk === '4-1'`, 30*time.Second)
	b.do("click 9", chromedp.Click(chromedp.CSS(`[data-testid="sample-9"]`)))
	b.waitFor("B = 9", `document.body.dataset.walk === '4-9' && document.querySelector('[data-testid="sample-9"]').classList.contains('end')`, 30*time.Second)
	if got := eval[string](b, `document.querySelector('#ends').textContent`); got != "A = sample 4, B = sample 9" {
		t.Errorf("ends %q", got)
	}
	b.screenshot("gan-walk")

	// Ablate a third of the first generator block's units: the grid changes.
	before := eval[string](b, `document.body.dataset.counts`)
	pixels := `Array.from(document.querySelectorAll('#grid canvas')).slice(0, 4).map(c => c.toDataURL()).join()`
	img := eval[string](b, pixels)
	samples := eval[int](b, `+document.body.dataset.samples`)
	for u := range 6 {
		b.do("ablate", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-testid="unit-%d"]`, u))))
	}
	// Each click regenerates the grid: wait for all six.
	b.waitFor("regenerated", fmt.Sprintf(`document.querySelectorAll('#units .unit.ablated').length === 6 && +document.body.dataset.samples >= %d`, samples+6), 30*time.Second)
	if eval[string](b, pixels) == img {
		t.Errorf("ablating six generator units left the samples unchanged")
	}
	t.Logf("class counts %s → %s", before, eval[string](b, `document.body.dataset.counts`))
	if hrefs := b.checkDownloads(); len(hrefs) != 6 {
		t.Errorf("%d figure download links, want 6", len(hrefs))
	}
	t.Logf("screenshot: %s", b.screenshot("gan"))
	b.noErrors()
}
