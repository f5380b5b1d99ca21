package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
)

// installTimeout bounds CRD installation, including waiting for the API
// server to serve the new kind.
const installTimeout = time.Minute

// install creates or updates the Workflow CRD, waits until it is
// Established, and creates the namespace and its default ServiceAccount.
func install(cfg *rest.Config, scheme *runtime.Scheme, namespace string) error {
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	s := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return fmt.Errorf("install CRD: scheme: %w", err)
	}
	ext, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return fmt.Errorf("install CRD: client: %w", err)
	}
	var want apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(wfv1.CRDYAML, &want); err != nil {
		return fmt.Errorf("install CRD: decode: %w", err)
	}
	var have apiextensionsv1.CustomResourceDefinition
	switch err := ext.Get(ctx, client.ObjectKeyFromObject(&want), &have); {
	case apierrors.IsNotFound(err):
		if err := ext.Create(ctx, &want); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("install CRD %s: %w", want.Name, err)
		}
	case err != nil:
		return fmt.Errorf("install CRD %s: get: %w", want.Name, err)
	default:
		// An older agent may have installed an older schema.
		have.Spec = want.Spec
		have.Annotations = want.Annotations
		if err := ext.Update(ctx, &have); err != nil {
			return fmt.Errorf("install CRD %s: update: %w", want.Name, err)
		}
	}
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := ext.Get(ctx, client.ObjectKeyFromObject(&want), &crd); err != nil {
			return false, nil
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("install CRD %s: not established: %w", want.Name, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("install namespace: client: %w", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("install namespace %s: %w", namespace, err)
	}
	// Pods are refused without the namespace's default ServiceAccount, which
	// only kube-controller-manager creates; member clusters in tests run
	// without one.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: namespace}}
	if err := c.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("install service account %s/default: %w", namespace, err)
	}
	return nil
}
