package web

import "sync"

// Bounds of a broker.
const (
	// subscriberBuffer is each client's queue of undelivered events. A
	// client that falls this far behind is dropped; its EventSource
	// reconnects with Last-Event-ID and catches up from the history.
	subscriberBuffer = 256
	// maxHistory is the number of past events kept for replay.
	maxHistory = 1 << 16
)

// event is one server-sent event: its id (1, 2, ...), name and JSON data.
type event struct {
	id   int
	name string
	data []byte
}

// subscriber is one client's queue.
type subscriber struct{ ch chan event }

// broker fans one training's events out to its clients. Publish never
// blocks: each subscriber has a bounded buffer, and a subscriber whose
// buffer is full is dropped (its channel closed) rather than slowing the
// training down. Past events are kept, so a client that joins late or
// reconnects replays what it missed. A broker is safe for concurrent use.
type broker struct {
	mu      sync.Mutex
	history []event
	next    int
	subs    map[*subscriber]struct{}
	closed  bool
}

func newBroker() *broker { return &broker{next: 1, subs: map[*subscriber]struct{}{}} }

// publish sends an event to every subscriber and keeps it for replay.
// Publishing to a closed broker does nothing.
func (b *broker) publish(name string, data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	ev := event{id: b.next, name: name, data: data}
	b.next++
	if len(b.history) == maxHistory {
		b.history = append(b.history[:0], b.history[1:]...)
	}
	b.history = append(b.history, ev)
	for s := range b.subs {
		select {
		case s.ch <- ev:
		default: // too slow: drop it; it will reconnect and replay
			close(s.ch)
			delete(b.subs, s)
		}
	}
}

// subscribe returns the kept events with ids above after and, unless the
// broker is closed (nothing more will come), a subscriber for the rest.
// Call unsubscribe when done.
func (b *broker) subscribe(after int) ([]event, *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var replay []event
	for _, ev := range b.history {
		if ev.id > after {
			replay = append(replay, ev)
		}
	}
	if b.closed {
		return replay, nil
	}
	s := &subscriber{ch: make(chan event, subscriberBuffer)}
	b.subs[s] = struct{}{}
	return replay, s
}

// unsubscribe removes s (nil or already dropped is fine).
func (b *broker) unsubscribe(s *subscriber) {
	if s == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.ch)
	}
}

// close ends the stream: subscribers' channels are closed after the events
// already queued, and the history is pruned to its last event (the
// training's final status): later subscribers get that alone, and read the
// records from the run's metrics file.
func (b *broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	if n := len(b.history); n > 1 {
		b.history = []event{b.history[n-1]}
	}
	for s := range b.subs {
		close(s.ch)
		delete(b.subs, s)
	}
}
