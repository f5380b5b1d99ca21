package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// UsageOptions select a usage report; empty fields select everything, a
// zero From or To leaves the server's default (the last 24 hours).
type UsageOptions struct {
	Project, Domain, Cluster string
	From, To                 time.Time
	// Limit caps the per-execution list (0: the server's default).
	Limit int
}

func (o UsageOptions) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"project": o.Project, "domain": o.Domain, "cluster": o.Cluster} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !o.From.IsZero() {
		q.Set("from", o.From.UTC().Format(time.RFC3339))
	}
	if !o.To.IsZero() {
		q.Set("to", o.To.UTC().Format(time.RFC3339))
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	return q
}

// Usage returns the resources requested by task nodes over a window, by
// project, domain and cluster, with estimated costs.
func (c *Client) Usage(ctx context.Context, opts UsageOptions) (v1.UsageReport, error) {
	var rep v1.UsageReport
	if _, err := c.do(ctx, http.MethodGet, apiPath("usage"), opts.query(), nil, &rep); err != nil {
		return v1.UsageReport{}, fmt.Errorf("usage: %w", err)
	}
	return rep, nil
}
