package ledger

import (
	"context"
	"database/sql"
	"time"
)

// SetLockTimes shortens the heartbeat and the stale time for a test.
func SetLockTimes(heartbeat, stale time.Duration) (restore func()) {
	h, s := heartbeatEvery, staleAfter
	heartbeatEvery, staleAfter = heartbeat, stale
	return func() { heartbeatEvery, staleAfter = h, s }
}

// SetClock replaces the store's clock.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// DB is the store's database, for tests that measure it.
func (s *Store) DB() *sql.DB { return s.db }

// HolderPIDs are the database sessions holding name's advisory lock
// (PostgreSQL).
func HolderPIDs(ctx context.Context, s *Store, name string) ([]int64, error) {
	return s.advisoryHolders(ctx, name)
}
