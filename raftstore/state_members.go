package raftstore

func (s *State) applySetMember(c *Command) Result {
	if c.Member == nil || c.Member.ID == "" {
		return invalidCmd(c, "no member id")
	}
	if old, ok := s.members[c.Member.ID]; !ok || old != c.Member.HTTPAddress {
		s.members[c.Member.ID] = c.Member.HTTPAddress
		s.dirty = true
	}
	return Result{}
}

// applyRemoveMember forgets a member's metadata; removing an unknown member
// is not an error, so it can follow a Raft removal unconditionally.
func (s *State) applyRemoveMember(c *Command) Result {
	id := c.Name
	if c.Member != nil && c.Member.ID != "" {
		id = c.Member.ID
	}
	if id == "" {
		return invalidCmd(c, "no member id")
	}
	if _, ok := s.members[id]; ok {
		delete(s.members, id)
		s.dirty = true
	}
	return Result{}
}
