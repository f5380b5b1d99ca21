package v1alpha1

import _ "embed"

// CRDYAML is the generated CustomResourceDefinition of Workflow, so that the
// agent (with its InstallCRD option) and tests can install it without a copy
// of the repository's files.
//
//go:embed crd/*.yaml
var CRDYAML []byte
