package v1alpha1

// RaftServer is one member of the control plane's Raft configuration.
type RaftServer struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	// HTTPAddress is the member's API address, for forwarding.
	HTTPAddress string `json:"httpAddress,omitempty"`
	Suffrage    string `json:"suffrage"`
}

// RaftLeader names the current leader.
type RaftLeader struct {
	ID      string `json:"id"`
	Address string `json:"address"`
}

// RaftStatus answers GET /raft.
type RaftStatus struct {
	ID           string       `json:"id"`
	State        string       `json:"state"`
	Leader       *RaftLeader  `json:"leader"`
	Members      []RaftServer `json:"members"`
	Term         uint64       `json:"term"`
	CommitIndex  uint64       `json:"commitIndex"`
	AppliedIndex uint64       `json:"appliedIndex"`
	LastIndex    uint64       `json:"lastIndex"`
}

// JoinRequest asks the leader to add a voter.
type JoinRequest struct {
	ID          string `json:"id"`
	Address     string `json:"address"`
	HTTPAddress string `json:"httpAddress,omitempty"`
}
