package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/mechinterp/workbench/internal/humanerr"
)

// apiError is an error with the HTTP status it answers.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// badRequest wraps a validation error from a library call on user input.
func badRequest(err error) error { return &apiError{http.StatusBadRequest, err.Error()} }

// errorf returns an apiError with the given status.
func errorf(status int, format string, args ...any) error {
	return &apiError{status, fmt.Sprintf(format, args...)}
}

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// errorBody is the JSON of every error response.
type errorBody struct {
	Error     string `json:"error"`
	Status    int    `json:"status"`
	RequestID string `json:"request_id,omitempty"`
}

// handle adapts h to http.HandlerFunc, writing its error as JSON: an
// apiError with its status, a request body over the limit as 413, a
// deadline as 504, anything else as 500 (logged; user input never gets
// there: handlers classify library errors on user input as 400).
func handle(log *slog.Logger, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var ae *apiError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &ae):
		case errors.As(err, &mbe):
			ae = &apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit)}
		case errors.Is(err, context.DeadlineExceeded):
			ae = &apiError{http.StatusGatewayTimeout, "the request took too long and was stopped"}
		case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
			return // the client went away
		default:
			log.Error("request failed", "method", r.Method, "path", r.URL.Path, "request_id", middleware.GetReqID(r.Context()), "err", err)
			// The message may hold server paths; the log has it.
			ae = &apiError{http.StatusInternalServerError, "internal error: the server's log has the details under this request's id"}
		}
		writeError(w, r, ae.status, humanerr.Strip(ae.msg))
	}
}

// writeError writes a JSON error.
func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg, Status: status, RequestID: middleware.GetReqID(r.Context())})
}

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	writeRawJSON(w, status, b)
	return nil
}

// writeRawJSON writes b, already JSON, with the given status.
func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte{'\n'})
}

// decodeJSON decodes the request body into v: exactly one JSON value, no
// unknown fields. The body is already limited by the limitBody middleware.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errorf(http.StatusUnsupportedMediaType, "web: want a JSON body with Content-Type application/json, got %q (with curl, add -H 'Content-Type: application/json')", ct)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var ae *apiError
		switch {
		case errors.As(err, &mbe), errors.As(err, &ae):
			return err
		case errors.Is(err, io.EOF):
			return errorf(http.StatusBadRequest, "web: empty request body, want a JSON object")
		}
		return errorf(http.StatusBadRequest, "web: malformed JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		var ae *apiError
		if errors.As(err, &mbe) || errors.As(err, &ae) {
			return err
		}
		return errorf(http.StatusBadRequest, "web: malformed JSON: more than one value in the body")
	}
	return nil
}

// inputErr classifies the error of a library call on user input: ctx's
// error if the request was cancelled or timed out, else a 400 with the
// library's message (which names the problem).
func inputErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return badRequest(err)
}
