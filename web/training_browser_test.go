package web

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mechinterp/workbench/train"
)

// writeInterruptedRun writes an induction run stopped at step 2233, whose
// metrics were last logged at step 2230 (records every 10 steps), as
// `train induction` leaves it after Ctrl-C.
func writeInterruptedRun(t *testing.T, runsDir, name string) {
	t.Helper()
	dir := filepath.Join(runsDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeJSONFile(t, filepath.Join(dir, train.TrainConfigFile), map[string]any{"steps": 4000, "eval_every": 500})
	var b strings.Builder
	for step := 10; step <= 2230; step += 10 {
		fmt.Fprintf(&b, `{"step": %d, "loss": %g, "lr": 0.001, "elapsed_s": %g`, step, 4/float64(step), float64(step)/30)
		if step%500 == 0 {
			fmt.Fprintf(&b, `, "eval_loss": %g, "eval_acc": 0.9, "induction_max": 0.1, "induction_score": [[0.1, 0.1], [0.1, 0.1]], "prev_token_score": [[0.3, 0.2], [0.1, 0.1]]`, 4/float64(step))
		}
		b.WriteString("}\n")
	}
	if err := os.WriteFile(filepath.Join(dir, metricsFile), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	writeJSONFile(t, filepath.Join(dir, summaryFile), map[string]any{"steps": 2233, "interrupted": true, "final_eval_acc": 0.9, "phase_change_step": nil})
}

// TestBrowserTrainingSteps (issue 15 item 6): the status line and the run
// list give an interrupted run the same step count, the one it stopped at,
// and the status says where the metrics were last logged.
func TestBrowserTrainingSteps(t *testing.T) {
	b := newBrowser(t)
	writeInterruptedRun(t, b.dir, "stopped")
	b.do("open the run", chromedp.Navigate(b.base+"/training?run=stopped"))
	b.waitFor("ready", `document.body.dataset.ready === 'training' && document.querySelector('#status').textContent.startsWith('interrupted')`, 60*time.Second)
	status := eval[string](b, `document.querySelector('#status').textContent`)
	option := eval[string](b, `document.querySelector('#run option[value=stopped]').textContent`)
	statusStep := regexp.MustCompile(`step (\d+)`).FindStringSubmatch(status)
	listSteps := regexp.MustCompile(`(\d+) steps`).FindStringSubmatch(option)
	if statusStep == nil || listSteps == nil || statusStep[1] != listSteps[1] || statusStep[1] != "2233" {
		t.Errorf("status %q and run list %q disagree, or are not the 2233 steps the run stopped at", status, option)
	}
	if !strings.Contains(status, "last logged at step 2230") {
		t.Errorf("status %q does not say the metrics end at step 2230", status)
	}
	b.noErrors()
}

// TestBrowserTrainingLM: a `train lm` run (metrics as the contract
// says) shows the ICL score, per-head prefix matching as a heatmap over
// the evaluations with a colour bar, the loss with the phase change marked
// and per-position loss, hides the induction-task charts it has no data
// for, lists its checkpoints with the pair around the phase change side by
// side, opens a checkpoint on the Attention page through the model picker,
// and overlays a second run in its own colour; the demo (an induction
// run) keeps its charts.
func TestBrowserTrainingLM(t *testing.T) {
	b := newBrowser(t)
	writeLMRun(t, b.dir, "lm-run", stdLMRun)
	writeLMRun(t, b.dir, "lm-seed2", lmRun{steps: 600, evalEvery: 50, phaseAt: 400, checkpoints: []int{600}, lossScale: 1.2})
	b.do("open the lm run", chromedp.Navigate(b.base+"/training?run=lm-run"))
	b.waitFor("ready", `document.body.dataset.ready === 'training' && document.querySelector('#status').textContent.startsWith('finished')`, 60*time.Second)
	b.waitFor("checkpoints", `document.querySelectorAll('#ckpt-list li').length === 5 && document.body.dataset.rendered === 'lm-run:' + document.body.dataset.records`, 10*time.Second)

	visible := func(id string) bool { return eval[bool](b, fmt.Sprintf(`!document.querySelector('#%s').hidden`, id)) }
	for id, want := range map[string]bool{"icl-chart": true, "pos-chart": true, "pm-block": true, "acc-chart": false, "kcomp-chart": false, "loss-chart": true} {
		if got := visible(id); got != want {
			t.Errorf("#%s visible %v, want %v on an lm run", id, got, want)
		}
	}
	// 12 evaluations (every 50 steps to 600); the ICL curve drops
	if n := eval[string](b, `document.querySelector('[data-testid=icl] path.series').dataset.n`); n != "12" {
		t.Errorf("ICL curve has %s points, want 12", n)
	}
	if n := eval[int](b, `document.querySelectorAll('[data-testid=pos] path.series').length`); n != 3 {
		t.Errorf("%d per-position loss curves, want 3 (the steps that logged one)", n)
	}
	if m := eval[string](b, `Array.from(document.querySelectorAll('[data-testid=loss] .marker-text')).map(x => x.textContent).join('|')`); m != "phase change (step 300)" {
		t.Errorf("loss chart markers %q, want the phase change at step 300", m)
	}
	grid := eval[[]float64](b, `(() => { const n = document.querySelector('[data-testid=pm-heatmap]'); return [n.querySelectorAll('rect').length, n.querySelectorAll('text').length]; })()`)
	if grid[0] < 4*12 {
		t.Errorf("prefix-matching heatmap has %v cells, want 4 heads × 12 evaluations", grid[0])
	}
	if !eval[bool](b, `!!document.querySelector('#pm-colorbar svg.colorbar') && Array.from(document.querySelectorAll('[data-testid=pm-heatmap] text')).some(x => x.textContent === '◆300')`) {
		t.Error("the prefix-matching heatmap lacks its colour bar or the phase-change column mark")
	}

	// before/after the phase change side by side, on one colour scale
	sides := eval[[]string](b, `Array.from(document.querySelectorAll('#phase-pair > .phase-cols > .phase-side')).map(s => s.dataset.testid + ':' + s.dataset.step)`)
	if strings.Join(sides, " ") != "phase-before:250 phase-after:350" {
		t.Errorf("phase pair %v, want before 250 and after 350", sides)
	}
	boxes := eval[[]float64](b, `Array.from(document.querySelectorAll('#phase-pair > .phase-cols > .phase-side')).flatMap(s => { const r = s.getBoundingClientRect(); return [r.left, r.top]; })`)
	if len(boxes) != 4 || !(boxes[2] > boxes[0]) || boxes[1] != boxes[3] {
		t.Errorf("before/after boxes at %v: want them side by side", boxes)
	}
	// the heads' colours differ: L1H0 is on after, off before
	fills := eval[[]string](b, `['before', 'after'].map(s => Array.from(document.querySelectorAll('[data-testid=phase-heat-' + s + '] rect')).map(r => r.getAttribute('fill')).join(','))`)
	if len(fills) != 2 || fills[0] == fills[1] {
		t.Errorf("before and after heatmaps are coloured the same: %v", fills)
	}
	// the top head's attention in both checkpoints, on one repeated sequence
	b.waitFor("patterns", `!!document.querySelector('[data-testid=phase-attn-before]') && !!document.querySelector('[data-testid=phase-attn-after]')`, 30*time.Second)
	if h := eval[string](b, `document.querySelector('#phase-attn h2').textContent`); !strings.HasPrefix(h, "L1H0") {
		t.Errorf("before/after patterns of %q, want L1H0, the head that matches prefixes after the change", h)
	}
	if links := b.checkDownloads(); len(links) != 2*7 {
		t.Errorf("%d figure downloads on an lm run (%v), want PNG and SVG of 7 figures", len(links), links)
	}
	t.Logf("screenshot: %s", b.screenshot("training-lm"))

	// the overlay: tick the second run
	b.do("compare", chromedp.Click(chromedp.CSS(`#compare-runs input[value=lm-seed2]`)))
	b.waitFor("two runs", `document.querySelectorAll('[data-testid=compare] path.series').length === 2`, 10*time.Second)
	cmp := eval[[]string](b, `Array.from(document.querySelectorAll('[data-testid=compare] path.series')).map(p => p.dataset.series + '=' + p.getAttribute('stroke'))`)
	if len(cmp) != 2 || !strings.HasPrefix(cmp[0], "lm-run=") && !strings.HasPrefix(cmp[1], "lm-run=") || strings.Split(cmp[0], "=")[1] == strings.Split(cmp[1], "=")[1] {
		t.Errorf("overlay series %v: want both runs, in different colours", cmp)
	}
	if legend := eval[string](b, `document.querySelector('#compare-chart .legend').textContent`); !strings.Contains(legend, "lm-run") || !strings.Contains(legend, "lm-seed2") {
		t.Errorf("overlay legend %q", legend)
	}
	b.do("metric", chromedp.SetValue(chromedp.CSS("#compare-metric"), "icl_score"))
	eval[bool](b, `document.querySelector('#compare-metric').dispatchEvent(new Event('change'))`)
	b.waitFor("ICL overlay", `location.search.includes('metric=icl_score') && location.search.includes('compare=lm-seed2')`, 10*time.Second)
	if n := eval[string](b, `Array.from(document.querySelectorAll('[data-testid=compare] path.series')).map(p => p.dataset.n).join(',')`); n != "12,12" {
		t.Errorf("ICL overlay points %q, want 12 per run", n)
	}
	// the URL restores the comparison
	url := eval[string](b, `location.href`)
	b.do("reload", chromedp.Navigate(url))
	b.waitFor("restored", `document.body.dataset.ready === 'training' && (document.body.dataset.compared || '').split(',').sort().join() === 'lm-run,lm-seed2' && document.querySelector('#compare-metric').value === 'icl_score'`, 30*time.Second)
	t.Logf("screenshot: %s", b.screenshot("training-compare"))

	// a checkpoint opens on the Attention page, chosen in its picker
	href := eval[string](b, `document.querySelector('#ckpt-list li[data-step="250"] a[data-page=attention]').getAttribute('href')`)
	if href != "/attention?model=lm-run.step-000250" {
		t.Errorf("attention link %q", href)
	}
	b.do("open the checkpoint", chromedp.Click(chromedp.CSS(`#ckpt-list li[data-step="250"] a[data-page=attention]`)))
	b.waitFor("attention on the checkpoint", `document.body.dataset.ready === 'attention' && document.querySelector('#model').value === 'lm-run.step-000250'`, 90*time.Second)
	if label := eval[string](b, `document.querySelector('#model option:checked').textContent`); !strings.Contains(label, "checkpoint") {
		t.Errorf("picker shows %q for the checkpoint", label)
	}
	t.Logf("screenshot: %s", b.screenshot("attention-checkpoint"))
	b.noErrors()

	// the demo (an induction run) keeps the induction charts
	b.open("training")
	b.waitFor("demo", `document.querySelector('#status').textContent.startsWith('finished') && document.body.dataset.rendered === 'demo:' + document.body.dataset.records`, 30*time.Second)
	for id, want := range map[string]bool{"icl-chart": false, "pos-chart": false, "pm-block": false, "acc-chart": true, "kcomp-chart": true} {
		if got := visible(id); got != want {
			t.Errorf("demo: #%s visible %v, want %v", id, got, want)
		}
	}
	b.noErrors()
}
