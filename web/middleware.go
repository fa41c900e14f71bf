package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
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
				writeError(w, r, http.StatusInternalServerError, "web: internal error")
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

// sameOrigin refuses state-changing requests (anything but GET, HEAD and
// OPTIONS) that a browser sent from another origin: a page elsewhere must
// not start trainings on the user's local dashboard. Browsers send Origin
// on every cross-origin POST; tools like curl send none and pass.
func sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if o := r.Header.Get("Origin"); o != "" {
				u, err := url.Parse(o)
				if err != nil || u.Host != r.Host {
					writeError(w, r, http.StatusForbidden, fmt.Sprintf("web: cross-origin %s from %q refused", r.Method, o))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// notFoundJSON answers unknown /api/ routes.
func notFoundJSON(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotFound, fmt.Sprintf("web: no API route %s %s", r.Method, r.URL.Path))
}

// methodNotAllowedJSON answers known /api/ routes called with the wrong method.
func methodNotAllowedJSON(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("web: %s is not allowed on %s", r.Method, r.URL.Path))
}
