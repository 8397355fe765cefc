package postgres

// OnAppendGroup makes s call fn with the size of every group of appends,
// before the group's transaction (in the goroutine that runs it).
func OnAppendGroup(s *Store, fn func(n int)) {
	s.appends.mu.Lock()
	s.appends.onGroup = fn
	s.appends.mu.Unlock()
}

// QueuedAppends is the number of appends waiting for a group.
func QueuedAppends(s *Store) int {
	s.appends.mu.Lock()
	defer s.appends.mu.Unlock()
	return len(s.appends.pending)
}
