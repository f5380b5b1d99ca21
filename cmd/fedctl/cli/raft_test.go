package cli

import (
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func TestRaftCommands(t *testing.T) {
	status := v1.RaftStatus{
		ID: "fed-1", State: "Leader", Leader: &v1.RaftLeader{ID: "fed-1", Address: "127.0.0.1:7001"},
		Term: 4, CommitIndex: 120, AppliedIndex: 119, LastIndex: 121,
		Members: []v1.RaftServer{
			{ID: "fed-1", Address: "127.0.0.1:7001", HTTPAddress: "127.0.0.1:8081", Suffrage: "Voter"},
			{ID: "fed-2", Address: "127.0.0.1:7002", Suffrage: "Voter"},
		},
	}
	cases := []struct {
		name   string
		args   []string
		routes map[string][]reply
		want   want
	}{
		{
			name:   "status",
			args:   []string{"raft", "status"},
			routes: map[string][]reply{"GET /api/v1alpha1/raft": {{200, status}}},
			want: want{
				requests: []request{{Method: "GET", Path: "/api/v1alpha1/raft"}},
				stdout: "" +
					"ID:              fed-1\n" +
					"State:           Leader\n" +
					"Leader:          fed-1 (127.0.0.1:7001)\n" +
					"Term:            4\n" +
					"Commit index:    120\n" +
					"Applied index:   119\n" +
					"Last index:      121\n" +
					"\n" +
					"MEMBER   ADDRESS          HTTP-ADDRESS     SUFFRAGE   LEADER\n" +
					"fed-1    127.0.0.1:7001   127.0.0.1:8081   Voter      *\n" +
					"fed-2    127.0.0.1:7002   -                Voter      \n",
			},
		},
		{
			name:   "status without a leader",
			args:   []string{"raft", "status"},
			routes: map[string][]reply{"GET /api/v1alpha1/raft": {{200, v1.RaftStatus{ID: "fed-2", State: "Candidate"}}}},
			want:   want{requests: []request{{Method: "GET", Path: "/api/v1alpha1/raft"}}, has: []string{"Leader:          none (no quorum)"}},
		},
		{
			name:   "join",
			args:   []string{"raft", "join", "fed-3", "127.0.0.1:7003", "--http-addr", "127.0.0.1:8083"},
			routes: map[string][]reply{"POST /api/v1alpha1/raft/join": {{200, nil}}},
			want: want{
				requests: []request{{Method: "POST", Path: "/api/v1alpha1/raft/join", Body: `{"id":"fed-3","address":"127.0.0.1:7003","httpAddress":"127.0.0.1:8083"}`}},
				stdout:   "raft member fed-3 joined at 127.0.0.1:7003\n",
			},
		},
		{
			name:   "join json prints the request that was accepted",
			args:   []string{"raft", "join", "fed-3", "127.0.0.1:7003", "-o", "json"},
			routes: map[string][]reply{"POST /api/v1alpha1/raft/join": {{200, nil}}},
			want: want{
				requests: []request{{Method: "POST", Path: "/api/v1alpha1/raft/join", Body: `{"id":"fed-3","address":"127.0.0.1:7003"}`}},
				stdout:   "{\n  \"id\": \"fed-3\",\n  \"address\": \"127.0.0.1:7003\"\n}\n",
			},
		},
		{
			name:   "join on a follower without quorum",
			args:   []string{"raft", "join", "fed-3", "127.0.0.1:7003"},
			routes: map[string][]reply{"POST /api/v1alpha1/raft/join": {apiError(503, v1.CodeUnavailable, "no leader: the control plane has no quorum, retry later")}},
			want: want{
				code:     1,
				requests: []request{{Method: "POST", Path: "/api/v1alpha1/raft/join", Body: `{"id":"fed-3","address":"127.0.0.1:7003"}`}},
				stderr:   "Error: no leader: the control plane has no quorum, retry later\n",
			},
		},
		{
			name: "join without an address",
			args: []string{"raft", "join", "fed-3"},
			want: want{code: 2, stderr: "takes 2 argument(s): ID RAFTADDR; got 1"},
		},
		{
			name:   "remove",
			args:   []string{"raft", "remove", "fed-3"},
			routes: map[string][]reply{"DELETE /api/v1alpha1/raft/members/fed-3": {{204, nil}}},
			want:   want{requests: []request{{Method: "DELETE", Path: "/api/v1alpha1/raft/members/fed-3"}}, stdout: "raft member fed-3 removed\n"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, run(t, runOpts{routes: tc.routes}, tc.args...), tc.want)
		})
	}
}
