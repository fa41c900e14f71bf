package web

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// trainAPI is /api/train: "Train one now" and its live event stream.
type trainAPI struct {
	t         *trainer
	log       *slog.Logger
	keepAlive time.Duration
	timeout   time.Duration
	quit      <-chan struct{} // closed when the server stops streaming
	streams   chan struct{}   // a slot per open event stream
}

// Routes returns the /api/train router. Every route but the event stream
// has a request timeout; the stream has none, and no write deadline.
func (a *trainAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Group(func(r chi.Router) {
		r.Use(timeout(a.timeout))
		r.Post("/", handle(a.log, a.start))
		r.Get("/", handle(a.log, a.list))
		r.Get("/{id}", handle(a.log, a.status))
		r.Post("/{id}/stop", handle(a.log, a.stop))
	})
	r.Get("/{id}/events", handle(a.log, a.events))
	return r
}

// start answers POST /api/train with 202 and the job's status; the body,
// optional, overrides steps, seed, eval_every, batch or lr.
func (a *trainAPI) start(w http.ResponseWriter, r *http.Request) error {
	var req trainRequest
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
	}
	cfg, err := req.config()
	if err != nil {
		return err
	}
	j, err := a.t.start(cfg)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/train/"+j.id)
	return writeJSON(w, http.StatusAccepted, j.status())
}

func (a *trainAPI) list(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, a.t.list())
}

// job resolves {id}.
func (a *trainAPI) job(r *http.Request) (*job, error) {
	id, err := urlParam(r, "id")
	if err != nil {
		return nil, err
	}
	if err := checkName(id); err != nil {
		return nil, err
	}
	j := a.t.get(id)
	if j == nil {
		return nil, errorf(http.StatusNotFound, "web: no training %q started by this server", id)
	}
	return j, nil
}

func (a *trainAPI) status(w http.ResponseWriter, r *http.Request) error {
	j, err := a.job(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, j.status())
}

// stop cancels a training (it checkpoints) and answers 202 at once.
func (a *trainAPI) stop(w http.ResponseWriter, r *http.Request) error {
	j, err := a.job(r)
	if err != nil {
		return err
	}
	j.stop()
	return writeJSON(w, http.StatusAccepted, j.status())
}

// events streams a training's records as server-sent events: "record"
// (one metrics.jsonl line), "phase" ({"before", "at"} when the phase
// change is detected or moves) and, last, "done" (the final status). Event
// ids count from 1; a client reconnecting with Last-Event-ID (or ?after=N)
// gets only what it missed. Comments keep idle streams alive. The stream
// ends after "done", when the server shuts down, or when the client falls
// more than subscriberBuffer events behind (it then reconnects). At most
// Deps.MaxStreams streams are open at once: 503 beyond.
func (a *trainAPI) events(w http.ResponseWriter, r *http.Request) error {
	j, err := a.job(r)
	if err != nil {
		return err
	}
	after := 0
	for _, s := range []string{r.Header.Get("Last-Event-ID"), r.URL.Query().Get("after")} {
		if s == "" {
			continue
		}
		if after, err = strconv.Atoi(s); err != nil || after < 0 {
			return errorf(http.StatusBadRequest, "web: event id %q: want a non-negative integer", s)
		}
	}
	select {
	case a.streams <- struct{}{}:
		defer func() { <-a.streams }()
	default:
		w.Header().Set("Retry-After", "5")
		return errorf(http.StatusServiceUnavailable, "web: %d event streams are open, as many as this server keeps; close one (another tab?) and retry", cap(a.streams))
	}
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // a stream lives as long as it likes; errors mean "not supported"
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	replay, sub := j.events.subscribe(after)
	defer j.events.unsubscribe(sub)
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	send := func(evs ...event) error {
		for _, ev := range evs {
			bw.WriteString("id: " + strconv.Itoa(ev.id) + "\nevent: " + ev.name + "\ndata: ")
			bw.Write(ev.data)
			bw.WriteString("\n\n")
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	bw.WriteString("retry: 2000\n\n")
	if err := send(replay...); err != nil || sub == nil {
		return nil
	}
	tick := time.NewTicker(a.keepAlive)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-sub.ch:
			if !ok {
				return nil
			}
			if send(ev) != nil {
				return nil
			}
		case <-tick.C:
			bw.WriteString(": keep-alive\n\n")
			if send() != nil {
				return nil
			}
		case <-r.Context().Done():
			return nil
		case <-a.quit:
			return nil
		}
	}
}
