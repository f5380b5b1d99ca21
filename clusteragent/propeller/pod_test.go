package propeller

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestInputEnvName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"rows", "FED_INPUT_ROWS"},
		{"max-rows", "FED_INPUT_MAX_ROWS"},
		{"a.b/c", "FED_INPUT_A_B_C"},
		{"X9", "FED_INPUT_X9"},
		{"é", "FED_INPUT___"}, // two bytes, two underscores
	} {
		if got := InputEnvName(tc.in); got != tc.want {
			t.Errorf("InputEnvName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPodOutputs(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		want      map[string]string
		wantErr   bool
	}{
		{"empty", "", nil, false},
		{"strings", `{"a":"1","b":"x"}`, map[string]string{"a": "1", "b": "x"}, false},
		{"non-strings as JSON text", `{"n":7,"l":[1,2],"o":{"k":true}}`, map[string]string{"n": "7", "l": "[1,2]", "o": `{"k":true}`}, false},
		{"empty object", `{}`, nil, false},
		{"not an object", `["a"]`, nil, true},
		{"not JSON", `done`, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
				Name: ContainerName, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: tc.msg}},
			}}}}
			got, err := podOutputs(pod)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("outputs %v, want %v", got, tc.want)
			}
		})
	}
}
