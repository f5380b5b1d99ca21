package v1alpha1

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Error codes carried in error bodies.
const (
	CodeInvalid      = "Invalid"
	CodeNotFound     = "NotFound"
	CodeConflict     = "Conflict"
	CodeUnavailable  = "Unavailable"
	CodeForbidden    = "Forbidden"
	CodeUnauthorized = "Unauthorized"
	CodeTooLarge     = "TooLarge"
	CodeRateLimited  = "RateLimited"
	CodeInternal     = "Internal"
)

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Duration is a time.Duration that is a Go duration string in JSON.
type Duration struct{ time.Duration }

// MarshalJSON renders the duration as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON accepts "1m30s" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		v, err := time.ParseDuration(str)
		if err != nil {
			return fmt.Errorf("duration %q: %w", str, err)
		}
		d.Duration = v
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	d.Duration = time.Duration(n)
	return nil
}
