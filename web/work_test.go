package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mechinterp/workbench/lens"
)

// TestLensHeldOutCached checks that the lens endpoint's held-out curves
// are computed once per model: later requests allocate a small fraction
// of the 64-sequence evaluation (about 42 MB when it was recomputed), and
// the curves equal the lens run directly on those sequences.
func TestLensHeldOutCached(t *testing.T) {
	s, _ := newTestServer(t)
	srv := httptest.NewServer(s)
	defer srv.Close()
	post := func(toks string) lensResponse {
		t.Helper()
		code, body := send(t, "POST", srv.URL+"/api/models/demo/lens", "", "", `{"tokens":[`+toks+`],"k":3}`)
		var out lensResponse
		if err := json.Unmarshal([]byte(body), &out); code != 200 || err != nil {
			t.Fatalf("lens: %d %.200s %v", code, body, err)
		}
		return out
	}
	first := post("1,2,3,4,5,1,2,3,4")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 4
	var later []lensResponse
	for i := range n {
		later = append(later, post(strings.Repeat("7,", i+1)+"8,9,10,8,9"))
	}
	runtime.ReadMemStats(&after)
	// The bound: a lens request on one sequence of the demo allocates
	// well under a megabyte; the held-out evaluation, tens of them.
	const maxPerRequest = 4 << 20
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > maxPerRequest {
		t.Errorf("a lens request allocates %d bytes, want under %d: the held-out work is recomputed", per, maxPerRequest)
	}
	demo, _ := loadDemo()
	b, err := demo.task.EvalSet(evalSeqs, evalSeed)
	if err != nil {
		t.Fatal(err)
	}
	st, err := lens.Logit(context.Background(), demo.m, b.Rows(), lens.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := statsJSON(demo, st)
	for i, r := range append(later, first) {
		if r.Eval.Sequences != evalSeqs || r.Eval.Tuned == nil || len(r.Eval.Logit.Loss) != len(want.Loss) {
			t.Fatalf("response %d: eval %+v", i, r.Eval)
		}
		for p := range want.Loss {
			if r.Eval.Logit.Loss[p] != want.Loss[p] || r.Eval.Logit.KLToFinal[p] != want.KLToFinal[p] {
				t.Errorf("response %d point %d: held-out loss %v KL %v, want %v %v", i, p, r.Eval.Logit.Loss[p], r.Eval.Logit.KLToFinal[p], want.Loss[p], want.KLToFinal[p])
			}
		}
	}
}

// TestLimitWork runs more requests than there are slots at once: no more
// than the slots run together, all finish, and a request that cannot get
// a slot within its deadline is a 504.
func TestLimitWork(t *testing.T) {
	const slots = 2
	var running, most atomic.Int32
	release := make(chan struct{})
	h := limitWork(make(chan struct{}, slots))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		running.Add(-1)
	}))
	srv := httptest.NewServer(timeout(time.Minute)(h))
	defer srv.Close()
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() { codes[i], _ = send(t, "GET", srv.URL, "", "", "") })
	}
	for running.Load() < slots {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the others queue
	close(release)
	wg.Wait()
	if m := most.Load(); m != slots {
		t.Errorf("%d requests ran at once, want %d", m, slots)
	}
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d: status %d", i, c)
		}
	}

	busy := make(chan struct{}, 1)
	busy <- struct{}{} // the only slot is taken
	srv2 := httptest.NewServer(timeout(100 * time.Millisecond)(limitWork(busy)(http.NotFoundHandler())))
	defer srv2.Close()
	if code, body := send(t, "GET", srv2.URL, "", "", ""); code != http.StatusGatewayTimeout || !strings.Contains(body, "waiting for other analyses") {
		t.Errorf("no free slot: %d %s, want 504", code, body)
	}
}

// TestAnalysisSlotsDefault leaves a core to trainings.
func TestAnalysisSlotsDefault(t *testing.T) {
	d := Deps{}.withDefaults()
	if want := max(1, runtime.GOMAXPROCS(0)-1); d.AnalysisSlots != want {
		t.Errorf("default analysis slots %d, want %d (GOMAXPROCS %d)", d.AnalysisSlots, want, runtime.GOMAXPROCS(0))
	}
}

// TestLimitWorkSlowReader: a client that does not read a large answer
// does not keep the only slot, so the next request is served.
func TestLimitWorkSlowReader(t *testing.T) {
	big := strings.Repeat("x", 64<<20) // more than loopback socket buffers hold
	h := limitWork(make(chan struct{}, 1))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			io.WriteString(w, big)
			return
		}
		io.WriteString(w, "small")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") // and never read
	time.Sleep(200 * time.Millisecond)
	done := make(chan string, 1)
	go func() {
		_, body := send(t, "GET", srv.URL+"/small", "", "", "")
		done <- body
	}()
	select {
	case body := <-done:
		if body != "small" {
			t.Errorf("second request: %q", body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a client not reading its answer holds the only slot: the next request waited 5 s")
	}
}
