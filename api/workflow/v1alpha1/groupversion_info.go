package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of the Workflow resource.
var GroupVersion = schema.GroupVersion{Group: "workflow.federation.dev", Version: "v1alpha1"}

// SchemeBuilder registers the package's kinds in a scheme. It is
// apimachinery's builder rather than controller-runtime's scheme.Builder that
// kubebuilder scaffolds: api/ may import apimachinery only, and both do the
// same thing.
var SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

// AddToScheme adds the Workflow kinds to a scheme.
var AddToScheme = SchemeBuilder.AddToScheme

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Workflow{}, &WorkflowList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
