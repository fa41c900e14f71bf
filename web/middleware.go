package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// contentSecurityPolicy allows the page to load only from this server.
const contentSecurityPolicy = "default-src 'self'"

// securityHeaders sets the Content-Security-Policy and friends on every
// response.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic in a handler into a logged JSON 500, so that one
// bad request cannot take the server down. Handlers validate user input and
// do not panic on it; this is the net under programming errors.
// http.ErrAbortHandler is re-panicked, as net/http expects.
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic in handler", "method", r.Method, "path", r.URL.Path,
					"request_id", middleware.GetReqID(r.Context()), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeError(w, r, http.StatusInternalServerError, "internal error: the server's log has the details under this request's id")
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// timeout bounds a request's context by d. Handlers pass the context to
// the library, which stops between steps; handle turns the deadline into
// a JSON 504. Event streams are not behind it.
func timeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// limitWork lets at most cap(slots) requests run their handlers at once;
// the others wait, first come first served, until a slot frees or their
// context ends (a deadline is a 504). Analyses are CPU-bound: bounding them
// keeps a core for a training however many clients ask. A handler writes
// into a buffer, sent after its slot is free, so that a client slow to
// read cannot hold a slot.
func limitWork(slots chan struct{}) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			buf := &bufferedResponse{header: w.Header()}
			if !runLimited(slots, buf, w, r, next) {
				return
			}
			w.WriteHeader(buf.code())
			w.Write(buf.body.Bytes())
		})
	}
}

// runLimited runs next with buf as its ResponseWriter once it has a slot,
// and reports whether it ran (else it has answered w).
func runLimited(slots chan struct{}, buf *bufferedResponse, w http.ResponseWriter, r *http.Request, next http.Handler) bool {
	select {
	case slots <- struct{}{}:
	default:
		select {
		case slots <- struct{}{}:
		case <-r.Context().Done():
			if errors.Is(r.Context().Err(), context.DeadlineExceeded) {
				writeError(w, r, http.StatusGatewayTimeout, "web: the request took too long and was stopped, waiting for other analyses to finish")
			}
			return false
		}
	}
	defer func() { <-slots }()
	next.ServeHTTP(buf, r)
	return true
}

// bufferedResponse is an http.ResponseWriter that keeps the status and
// body for later; the header is the real response's.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// code is the status written, 200 if none was.
func (b *bufferedResponse) code() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}

// limitBody caps request bodies at n bytes; reading past the cap fails
// with *http.MaxBytesError, which handle answers with 413. A declared
// Content-Length over the cap is refused before the handler runs.
func limitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				writeError(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes is larger than the limit of %d bytes", r.ContentLength, n))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// bodyDeadline bounds the time a client may take to send a request body:
// a body not received within d fails with a 408, so a client trickling
// bytes cannot hold a connection and a handler open. The deadline is
// lifted as soon as the body has been read, so that the response (an
// analysis may take long) is not cut; requests without a body, such as
// event streams, get none.
func bodyDeadline(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body != nil && r.Body != http.NoBody {
				rc := http.NewResponseController(w)
				if rc.SetReadDeadline(time.Now().Add(d)) == nil {
					r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, d: d}
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// deadlineBody lifts its connection's read deadline once the body is read
// and turns a timeout into a 408.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	d    time.Duration
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var ne net.Error
	switch {
	case err == nil || b.done:
	case errors.As(err, &ne) && ne.Timeout():
		// The deadline stays: the server must not wait for the rest of
		// the body before it answers.
		return n, errorf(http.StatusRequestTimeout, "web: the request body did not arrive within %v", b.d)
	default: // io.EOF, or the body is over its size limit
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// hostPolicy decides which Host and Origin headers the dashboard answers.
// The dashboard has no authentication, so a page on another site must not
// be able to read it or start work on it: neither directly (its Origin
// names the other site) nor through DNS rebinding (its Host names the
// other site while resolving to this machine).
type hostPolicy struct {
	allowed map[string]bool // lower-case host names and addresses besides loopback
}

// newHostPolicy allows loopback names and addresses and the given hosts
// (names or IP addresses, without ports).
func newHostPolicy(hosts []string) hostPolicy {
	p := hostPolicy{allowed: map[string]bool{}}
	for _, h := range hosts {
		if h = normalizeHost(h); h != "" {
			p.allowed[h] = true
		}
	}
	return p
}

// normalizeHost lower-cases a host name and strips IPv6 brackets and a
// trailing dot.
func normalizeHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// allows reports whether host (without port) may be served.
func (p hostPolicy) allows(host string) bool {
	host = normalizeHost(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || p.allowed[host] {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// splitHostPort splits a Host header or URL host into host and port,
// defaulting the port to def.
func splitHostPort(hostport, def string) (host, port string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport, def
	}
	if port == "" {
		port = def
	}
	return host, port
}

// checkHost refuses requests whose Host header names a host outside the
// policy (421) and requests from a browser page of another origin (403):
// an Origin header must be this server's own scheme, an allowed host and
// the port the request came to. "null" (sandboxed frames, file: pages) is
// refused. Tools like curl send no Origin and pass.
func (p hostPolicy) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, defPort := "http", "80"
		if r.TLS != nil {
			scheme, defPort = "https", "443"
		}
		host, port := splitHostPort(r.Host, defPort)
		if !p.allows(host) {
			writeError(w, r, http.StatusMisdirectedRequest, fmt.Sprintf("web: host %q is not served here; the dashboard answers loopback names and the hosts given to serve --allowed-hosts", r.Host))
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !p.sameOrigin(o, scheme, port, defPort) {
			writeError(w, r, http.StatusForbidden, fmt.Sprintf("web: %s from origin %q refused: only pages of this dashboard may call it", r.Method, o))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether origin names this server: scheme, an
// allowed host, and port.
func (p hostPolicy) sameOrigin(origin, scheme, port, defPort string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != scheme || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		return false
	}
	host, oport := splitHostPort(u.Host, defPort)
	return p.allows(host) && oport == port
}

// notFoundJSON answers unknown /api/ routes.
func notFoundJSON(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotFound, fmt.Sprintf("web: no API route %s %s", r.Method, r.URL.Path))
}

// methodNotAllowedJSON answers known /api/ routes called with the wrong method.
func methodNotAllowedJSON(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("web: %s is not allowed on %s", r.Method, r.URL.Path))
}
