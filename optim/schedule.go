package optim

import "math"

// Schedule gives the learning rate for a step: step is the 0-based index of
// the update about to be made (Optimizer.Steps() before calling Step) and the
// result is the absolute learning rate to pass to Step. A Schedule is a pure
// function of step, so a resumed run follows the same rates as an
// uninterrupted one. The schedules here never panic and treat a negative step
// as 0.
type Schedule func(step int) float64

// Constant returns the schedule that is lr at every step.
func Constant(lr float64) Schedule {
	return func(int) float64 { return lr }
}

// LinearWarmup returns a schedule that ramps linearly to lr over the first
// warmup steps and then stays at lr: step s < warmup gets lr·(s+1)/warmup, so
// the first update is never wasted at rate 0 and step warmup−1 already runs
// at lr (llm.c's warmup). warmup ≤ 0 means no warmup.
func LinearWarmup(lr float64, warmup int) Schedule {
	return func(step int) float64 { return warm(lr, warmup, max(step, 0)) }
}

// Cosine returns llm.c's and nanoGPT's schedule: LinearWarmup to lr over the
// first warmup steps, then a half cosine from lr at step warmup down to minLR
// at step total, and minLR from then on:
//
//	lr(s) = minLR + ½(1 + cos(π·(s−warmup)/(total−warmup)))·(lr − minLR)
//
// for warmup ≤ s < total. warmup ≤ 0 means no warmup; total ≤ warmup means no
// decay phase (minLR straight after the warmup).
func Cosine(lr float64, warmup, total int, minLR float64) Schedule {
	return func(step int) float64 {
		step = max(step, 0)
		switch {
		case step < warmup:
			return warm(lr, warmup, step)
		case step >= total:
			return minLR
		}
		w := max(warmup, 0)
		ratio := float64(step-w) / float64(total-w)
		return minLR + 0.5*(1+math.Cos(math.Pi*ratio))*(lr-minLR)
	}
}

// warm is the linear warmup rate at step ≥ 0: lr·(step+1)/warmup while
// step < warmup, lr afterwards.
func warm(lr float64, warmup, step int) float64 {
	if step >= warmup {
		return lr
	}
	return lr * float64(step+1) / float64(warmup)
}
