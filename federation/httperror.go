package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// errNoLeader is returned while the replica knows no leader (no quorum).
var errNoLeader = errors.New("no leader: the control plane has no quorum, retry later")

// errTooLarge marks a request body over the size limit.
var errTooLarge = errors.New("request body too large")

// statusOf maps an error to its HTTP status and API error code.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, v1.ErrInvalid), errors.Is(err, errBadRequest):
		return http.StatusBadRequest, v1.CodeInvalid
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge, v1.CodeTooLarge
	case errors.Is(err, raftstore.ErrNotFound):
		return http.StatusNotFound, v1.CodeNotFound
	case errors.Is(err, raftstore.ErrConflict), errors.Is(err, raftstore.ErrBusy), errors.Is(err, raftstore.ErrInvalidTransition):
		return http.StatusConflict, v1.CodeConflict
	case errors.Is(err, raftstore.ErrNotLeader), errors.Is(err, errNoLeader):
		return http.StatusServiceUnavailable, v1.CodeUnavailable
	case errors.Is(err, errForbidden):
		return http.StatusForbidden, v1.CodeForbidden
	}
	return http.StatusInternalServerError, v1.CodeInternal
}

// errBadRequest marks malformed requests that are not spec violations.
var errBadRequest = errors.New("bad request")

// errForbidden marks a request the caller's role does not allow.
var errForbidden = errors.New("forbidden")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away; nothing to do
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := statusOf(err)
	if status == http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, v1.ErrorBody{Error: v1.ErrorDetail{Code: code, Message: err.Error()}})
}

// decodeBody reads a JSON body strictly: unknown fields and trailing data
// are errors, so that a typo in a spec is a clear 400, not a silent default.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	return decodeStrict(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), dst, s.cfg.MaxBodyBytes)
}

// decodeStrict is decodeBody's reference decoder, over a reader that is
// already bounded to limit bytes.
func decodeStrict(body io.Reader, dst any, limit int64) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return fmt.Errorf("%w: over %d bytes", errTooLarge, limit)
		case errors.Is(err, io.EOF):
			return badRequest("empty body: a JSON object is required")
		}
		return badRequest("decode JSON body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: over %d bytes", errTooLarge, limit)
		}
		return badRequest("decode JSON body: unexpected data after the JSON object")
	}
	return nil
}

func errorBody(code, msg string) v1.ErrorBody {
	return v1.ErrorBody{Error: v1.ErrorDetail{Code: code, Message: msg}}
}

func notFoundf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", raftstore.ErrNotFound, fmt.Sprintf(format, args...))
}

func conflictf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", raftstore.ErrConflict, fmt.Sprintf(format, args...))
}
