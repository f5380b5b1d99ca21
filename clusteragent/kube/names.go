package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Labels on every Workflow the backend creates. Values are DNS-1123 labels
// already (the federation validates project, domain and name so).
const (
	LabelProject   = "workflow.federation.dev/project"
	LabelDomain    = "workflow.federation.dev/domain"
	LabelExecution = "workflow.federation.dev/execution"
	LabelAttempt   = "workflow.federation.dev/attempt"
)

// maxPrefix bounds the readable part of a workflow name, so that the name
// stays a valid label value (63) and pod names <workflow>-<node>-<n> stay
// short.
const maxPrefix = 40

// WorkflowName is the deterministic name of the Workflow for one attempt of
// an execution: the execution's name, cut to 40 characters, then a hash of
// the whole key and attempt. A retried Start finds the same name, so it can
// never create a second Workflow.
func WorkflowName(key v1.ExecutionKey, attempt int) string {
	sum := sha256.Sum256([]byte(key.Project + "/" + key.Domain + "/" + key.Name + "/" + strconv.Itoa(attempt)))
	var b strings.Builder
	for _, c := range strings.ToLower(key.Name) {
		if b.Len() >= maxPrefix {
			break
		}
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	prefix := strings.Trim(b.String(), "-")
	if prefix == "" {
		prefix = "wf"
	}
	return prefix + "-" + hex.EncodeToString(sum[:])[:10]
}
