package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mechinterp/workbench/train"
)

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	id         int
	name, data string
}

// readSSE parses events from r until it ends or stop returns true.
func readSSE(t *testing.T, r io.Reader, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	var out []sseEvent
	var ev sseEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.name != "" {
				out = append(out, ev)
				if stop != nil && stop(ev) {
					return out
				}
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			ev.id, _ = strconv.Atoi(line[4:])
		case strings.HasPrefix(line, "event: "):
			ev.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
	return out
}

// shortTraining is a training request that finishes in a few seconds.
const shortTraining = `{"steps": 30, "eval_every": 10, "batch": 8}`

func startTraining(t *testing.T, base, body string) jobStatus {
	t.Helper()
	res, err := http.Post(base+"/api/train", jsonCT, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var js jobStatus
	if err := json.NewDecoder(res.Body).Decode(&js); err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/train: status %d, %+v, %v", res.StatusCode, js, err)
	}
	return js
}

// TestTrainEvents starts a short training through the API and reads its
// records over server-sent events, then replays from an event id.
func TestTrainEvents(t *testing.T) {
	s, dir := newTestServer(t)
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer s.Shutdown(context.Background())

	js := startTraining(t, srv.URL, shortTraining)
	if js.State != "running" || js.Steps != 30 || js.Events != "/api/train/"+js.ID+"/events" {
		t.Fatalf("started %+v", js)
	}
	// A second training while one runs is refused.
	res, err := http.Post(srv.URL+"/api/train", jsonCT, strings.NewReader(shortTraining))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusConflict {
		t.Errorf("second training: status %d, want 409", res.StatusCode)
	}

	res, err = http.Get(srv.URL + js.Events)
	if err != nil {
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("events Content-Type %q", ct)
	}
	evs := readSSE(t, res.Body, func(e sseEvent) bool { return e.name == "done" })
	res.Body.Close()
	var records, evals int
	for i, e := range evs {
		if e.id != i+1 {
			t.Errorf("event %d has id %d, want %d", i, e.id, i+1)
		}
		if e.name == "record" {
			records++
			var rec map[string]any
			if err := json.Unmarshal([]byte(e.data), &rec); err != nil {
				t.Fatalf("record %q: %v", e.data, err)
			}
			if _, ok := rec["step"].(float64); !ok {
				t.Errorf("record without step: %s", e.data)
			}
			if _, ok := rec["induction_score"].([]any); ok {
				evals++
			}
		}
	}
	if records < 3 || evals < 3 {
		t.Errorf("got %d records (%d with evaluations), want at least 3 of each (steps 10, 20, 30)", records, evals)
	}
	last := evs[len(evs)-1]
	var done jobStatus
	if last.name != "done" || json.Unmarshal([]byte(last.data), &done) != nil || done.State != "finished" || done.Step != 30 {
		t.Fatalf("last event %s %s, want done with state finished at step 30", last.name, last.data)
	}
	if _, err := os.Stat(filepath.Join(dir, js.ID, modelFile)); err != nil {
		t.Errorf("the run has no model: %v", err)
	}

	// Reconnecting after the end replays only the final status (the
	// records are in the run's metrics), then ends.
	req, _ := http.NewRequest("GET", srv.URL+js.Events, nil)
	req.Header.Set("Last-Event-ID", "2")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	again := readSSE(t, res.Body, nil)
	res.Body.Close()
	if len(again) != 1 || again[0].id != last.id || again[0].name != "done" {
		t.Errorf("replay after the end: %v, want the done event alone, id %d", again, last.id)
	}

	// The finished run is a model and a run now.
	runAPICases(t, s, []apiCase{
		{"run listed", "GET", "/api/runs", "", "", 200, `"name":"` + js.ID + `","source":"run","status":"finished","steps":30`},
		{"run model", "GET", "/api/models/" + js.ID + "/attention?tokens=1,2,3", "", "", 200, `"patterns"`},
		{"run metrics", "GET", "/api/runs/" + js.ID + "/metrics?format=csv", "", "", 200, "step,"},
		{"status", "GET", "/api/train/" + js.ID, "", "", 200, `"state":"finished"`},
	})
}

// TestShutdownStopsTraining checks that Shutdown ends open event streams
// and stops a running training, which saves a checkpoint, quickly.
func TestShutdownStopsTraining(t *testing.T) {
	s, dir := newTestServer(t)
	srv := httptest.NewServer(s)
	defer srv.Close()
	js := startTraining(t, srv.URL, `{"steps": 100000, "eval_every": 100, "batch": 8}`)

	res, err := http.Get(srv.URL + js.Events)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	first := make(chan struct{})
	streamEnded := make(chan []sseEvent)
	go func() {
		var once bool
		streamEnded <- readSSE(t, res.Body, func(e sseEvent) bool {
			if !once {
				once = true
				close(first)
			}
			return false
		})
	}()
	select {
	case <-first:
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30 s")
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	select {
	case <-streamEnded:
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream stayed open after Shutdown")
	}
	// A second of grace is the target (serve's); allow for a loaded machine.
	const slack = 3 * time.Second
	if took > slack {
		t.Errorf("Shutdown took %v with a training running, want well under %v", took, slack)
	}
	st := s.trainer.status(js.ID)
	if st.State != "interrupted" {
		t.Errorf("after Shutdown the training is %q, want interrupted", st.State)
	}
	steps, err := train.Checkpoints(filepath.Join(dir, js.ID))
	if err != nil || len(steps) == 0 {
		t.Errorf("no checkpoint saved on shutdown (%v, %v)", steps, err)
	}
	t.Logf("Shutdown with a training and a stream open took %v; checkpoint at step %v", took, steps)
	// New trainings are refused.
	res2, err := http.Post(srv.URL+"/api/train", jsonCT, strings.NewReader(shortTraining))
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("training after shutdown: status %d, want 503", res2.StatusCode)
	}
}

func TestBroker(t *testing.T) {
	b := newBroker()
	b.publish("a", []byte("1"))
	replay, fast := b.subscribe(0)
	if len(replay) != 1 || replay[0].id != 1 {
		t.Fatalf("replay %v, want event 1", replay)
	}
	_, slow := b.subscribe(1)
	for i := range subscriberBuffer + 1 {
		b.publish("a", []byte(fmt.Sprint(i)))
		<-fast.ch // the fast subscriber keeps up
	}
	// The slow subscriber's buffer overflowed: it was dropped, its queue
	// still drains, then the channel is closed.
	n := 0
	for range slow.ch {
		n++
	}
	if n != subscriberBuffer {
		t.Errorf("slow subscriber got %d events before being dropped, want %d", n, subscriberBuffer)
	}
	replay, late := b.subscribe(subscriberBuffer)
	if len(replay) != 2 || replay[0].id != subscriberBuffer+1 {
		t.Errorf("replay after %d: %d events from %v", subscriberBuffer, len(replay), replay)
	}
	b.close()
	if _, ok := <-late.ch; ok {
		t.Error("subscriber channel open after close")
	}
	if _, ok := <-fast.ch; ok {
		t.Error("subscriber channel open after close")
	}
	b.publish("a", nil) // no effect, no panic
	b.unsubscribe(fast) // already closed: no double close
	replay, none := b.subscribe(0)
	if none != nil || len(replay) != 1 || replay[0].id != subscriberBuffer+2 {
		t.Errorf("after close: subscriber %v, events replayed %v, want the last alone (id %d)", none, replay, subscriberBuffer+2)
	}
}

// TestEventStreamKeepAliveNoWriteDeadline serves a stream through an
// http.Server with a short WriteTimeout: the stream must outlive it (the
// handler clears its write deadline) and carry keep-alive comments.
func TestEventStreamKeepAliveNoWriteDeadline(t *testing.T) {
	s := New(Deps{RunsDir: t.TempDir(), KeepAlive: 20 * time.Millisecond})
	srv := httptest.NewUnstartedServer(s)
	const writeTimeout = 300 * time.Millisecond
	srv.Config.WriteTimeout = writeTimeout
	srv.Start()
	defer srv.Close()
	defer s.Shutdown(context.Background())
	js := startTraining(t, srv.URL, `{"steps": 100000, "eval_every": 100000, "batch": 8}`)
	res, err := http.Get(srv.URL + js.Events)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	began := time.Now()
	sc := bufio.NewScanner(res.Body)
	keepAlives := 0
	for sc.Scan() {
		if sc.Text() == ": keep-alive" {
			keepAlives++
		}
		if time.Since(began) > 3*writeTimeout {
			break
		}
	}
	if err := sc.Err(); err != nil || time.Since(began) < 3*writeTimeout {
		t.Fatalf("stream ended after %v (%v); want it to outlive the %v write timeout", time.Since(began), err, writeTimeout)
	}
	if keepAlives < 5 {
		t.Errorf("%d keep-alive comments in %v at a 20 ms interval", keepAlives, time.Since(began))
	}
}

// TestRequestTimeout gives requests no time: the API answers a JSON 504.
func TestRequestTimeout(t *testing.T) {
	s := New(Deps{RunsDir: t.TempDir(), RequestTimeout: time.Nanosecond})
	runAPICases(t, s, []apiCase{
		{"attention", "GET", "/api/models/demo/attention?tokens=1,2", "", "", 504, "took too long"},
	})
}
