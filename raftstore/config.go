package raftstore

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"
)

// Config configures a Node. Zero durations and sizes take LAN defaults.
type Config struct {
	// ID is the Raft server ID; it must stay the same across restarts.
	ID string
	// Dir holds the bolt file (raft.db) and snapshots/.
	Dir string
	// BindAddr is the Raft TCP listen address; "127.0.0.1:0" picks a port,
	// which RaftAddr then reports. Unused when StreamLayer is set.
	BindAddr string
	// AdvertiseAddr is the address peers dial; default the bound address
	// (or StreamLayer's Addr). Set it when peers reach this node through a
	// NAT or proxy address.
	AdvertiseAddr string
	// Bootstrap makes a new single-voter cluster when Dir has no Raft state;
	// it is a no-op when state exists.
	Bootstrap bool
	// StreamLayer, if set, carries Raft traffic (TLS, say) instead of plain
	// TCP on BindAddr. Its Addr is advertised unless AdvertiseAddr is set.
	StreamLayer raft.StreamLayer

	// Raft timing: defaults 1s, 1s, 500ms, 50ms.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration

	// Snapshots: defaults 8192 entries, 2m, 10240 trailing entries.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64

	// NoSync skips fsync of the Raft log. Only for unit tests: an
	// acknowledged write could be lost on power failure.
	NoSync bool
	// MaxBatch is the most commands group commit packs into one log entry;
	// default 2048.
	MaxBatch int
	// Logger receives the node's logs and hashicorp/raft's at Warn and
	// above; default slog.Default().
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultHeartbeatTimeout   = time.Second
	DefaultElectionTimeout    = time.Second
	DefaultLeaderLeaseTimeout = 500 * time.Millisecond
	DefaultCommitTimeout      = 50 * time.Millisecond
	DefaultSnapshotThreshold  = 8192
	DefaultSnapshotInterval   = 2 * time.Minute
	DefaultTrailingLogs       = 10240
	DefaultMaxBatch           = 2048
)

// withDefaults returns a copy of c with defaults filled in, or an error if
// c cannot work.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("ID is required"))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("dir is required"))
	}
	if c.BindAddr == "" && c.StreamLayer == nil {
		errs = append(errs, errors.New("BindAddr or StreamLayer is required"))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("MaxBatch %d is negative", c.MaxBatch))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("raftstore config: %w", errors.Join(errs...))
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	def(&c.ElectionTimeout, DefaultElectionTimeout)
	def(&c.LeaderLeaseTimeout, DefaultLeaderLeaseTimeout)
	def(&c.CommitTimeout, DefaultCommitTimeout)
	def(&c.SnapshotInterval, DefaultSnapshotInterval)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// raftConfig builds hashicorp/raft's configuration.
func (c *Config) raftConfig(notify chan<- bool) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.ID)
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	rc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	rc.CommitTimeout = c.CommitTimeout
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.SnapshotInterval = c.SnapshotInterval
	rc.TrailingLogs = c.TrailingLogs
	rc.NotifyCh = notify
	rc.Logger = newHclog(c.Logger, "raft")
	return rc
}
