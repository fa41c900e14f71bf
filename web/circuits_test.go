package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// TestCircuitPosQKCausal checks the positional QK explorer against the
// causal mask: a query position's largest and smallest entries are keys at
// or before it, and the QK circuits carry no eigenvalue positivity (an OV
// copying measure), while the OV circuit still does.
func TestCircuitPosQKCausal(t *testing.T) {
	s, _ := newTestServer(t)
	type ranked struct{ Index int }
	var c struct {
		Top, Bottom []ranked
		Positivity  *float64
		Eigenvalues [][2]float64
	}
	get := func(path string) {
		t.Helper()
		rec := do(t, s, "GET", path, "", nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		c.Top, c.Bottom, c.Positivity, c.Eigenvalues = nil, nil, nil, nil
		if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
	}
	for _, pos := range []int{0, 1, 5, 39} {
		for _, lh := range [][2]int{{0, 0}, {1, 2}} {
			get(fmt.Sprintf("/api/models/demo/circuits/heads/%d/%d/pos-qk?token=%d&k=10", lh[0], lh[1], pos))
			if want := min(10, pos+1); len(c.Top) != want || len(c.Bottom) != want {
				t.Errorf("L%dH%d position %d: %d top and %d bottom keys, want %d (keys 0..%d)", lh[0], lh[1], pos, len(c.Top), len(c.Bottom), want, pos)
			}
			for _, r := range append(c.Top, c.Bottom...) {
				if r.Index > pos {
					t.Errorf("L%dH%d: query position %d ranks key position %d, after it (masked)", lh[0], lh[1], pos, r.Index)
				}
			}
		}
	}
	for _, kind := range []string{"qk", "pos-qk"} {
		get("/api/models/demo/circuits/heads/1/0/" + kind)
		if c.Positivity != nil || c.Eigenvalues != nil {
			t.Errorf("%s circuit answers positivity %v and %d eigenvalues: an OV-only measure", kind, c.Positivity, len(c.Eigenvalues))
		}
	}
	get("/api/models/demo/circuits/heads/1/0/ov")
	if c.Positivity == nil || len(c.Eigenvalues) == 0 {
		t.Errorf("ov circuit: positivity %v, %d eigenvalues; want both", c.Positivity, len(c.Eigenvalues))
	}
}
