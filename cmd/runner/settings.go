package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/goqsync/runner/ledger"
	"github.com/sethvargo/go-envconfig"
)

// settings are the runner's own, from RUNNER_* variables.
type settings struct {
	// Database is a SQLite file path, or a postgres:// URL to share state
	// between machines.
	Database string `env:"RUNNER_DATABASE, default=.runner/state.db"`
	// Listen is the address of serve's HTTP API.
	Listen string `env:"RUNNER_LISTEN, default=127.0.0.1:8080"`
	// APIToken guards serve's HTTP API; required off loopback.
	APIToken string `env:"RUNNER_API_TOKEN"`
	// Workers is how many runs one serve process carries at once; 0: every
	// job's at once (at least 8).
	Workers int `env:"RUNNER_WORKERS, default=0"`
	// HistoryDays is how long each order's story (the ledger's events) is
	// kept; runs prune what is older.
	HistoryDays int `env:"RUNNER_HISTORY_DAYS, default=400"`
}

func (c *cli) settings(ctx context.Context) (settings, error) {
	var s settings
	err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &s, Lookuper: envconfig.LookuperFunc(c.lookupEnv)})
	return s, err
}

func (c *cli) openLedger(ctx context.Context) (*ledger.Store, bool) {
	s, err := c.settings(ctx)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner: settings: %v\n", err)
		return nil, false
	}
	if s.HistoryDays < 1 {
		fmt.Fprintf(c.stderr, "runner: settings: RUNNER_HISTORY_DAYS=%d: must be at least 1\n", s.HistoryDays)
		return nil, false
	}
	st, err := ledger.Open(ctx, s.Database)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner: %v\n", err)
		return nil, false
	}
	st.KeepEvents(time.Duration(s.HistoryDays) * 24 * time.Hour)
	return st, true
}

// existingLedger opens the ledger only if it already exists, for commands
// such as plan that must not create anything.
func (c *cli) existingLedger(ctx context.Context) (*ledger.Store, bool) {
	s, err := c.settings(ctx)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner: settings: %v\n", err)
		return nil, false
	}
	if !strings.HasPrefix(s.Database, "postgres://") && !strings.HasPrefix(s.Database, "postgresql://") {
		if _, err := os.Stat(s.Database); err != nil {
			return nil, true
		}
	}
	return c.openLedger(ctx)
}
