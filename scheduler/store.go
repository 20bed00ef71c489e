package scheduler

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// riverMigrateLock serialises River's migrations between processes starting
// at once; rivermigrate takes no lock itself.
const riverMigrateLock = 0x72756e6e65725276

func (s *Scheduler) openPostgres(ctx context.Context, rcfg *river.Config) error {
	pcfg, err := pgxpool.ParseConfig(s.cfg.Database)
	if err != nil {
		return err
	}
	// River qualifies its tables and notification channels by schema; give
	// it the one the DSN's search_path names so both agree.
	if sp := pcfg.ConnConfig.RuntimeParams["search_path"]; identRE.MatchString(sp) {
		rcfg.Schema = sp
	}
	// River's services (listener, producer, completer, elector) and the
	// workers share the pool; pgxpool's default of four on a small machine
	// would make them queue for connections.
	if !strings.Contains(s.cfg.Database, "pool_max_conns") {
		pcfg.MaxConns = max(pcfg.MaxConns, 2*maxWorkers)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	driver := riverpgxv5.New(pool)
	if err := func() error {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(riverMigrateLock)); err != nil {
			return fmt.Errorf("lock river migrations: %w", err)
		}
		defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(riverMigrateLock))
		return migrate(ctx, driver, rcfg.Schema, s.log)
	}(); err != nil {
		pool.Close()
		return err
	}
	client, err := river.NewClient(driver, rcfg)
	if err != nil {
		pool.Close()
		return err
	}
	s.client, s.ping, s.close = client, pool.Ping, pool.Close
	return nil
}

func (s *Scheduler) openSQLite(ctx context.Context, rcfg *river.Config) error {
	if s.cfg.Database == "" {
		return errors.New("no database")
	}
	path := RiverSQLitePath(s.cfg.Database)
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return err
	}
	// River's SQLite driver wants a single connection: SQLite has one
	// writer, and River's services would otherwise trip over each other.
	db.SetMaxOpenConns(1)
	driver := riversqlite.New(db)
	if err := migrate(ctx, driver, "", s.log); err != nil {
		db.Close()
		return err
	}
	client, err := river.NewClient(driver, rcfg)
	if err != nil {
		db.Close()
		return err
	}
	s.client, s.ping, s.close = client, db.PingContext, func() { db.Close() }
	return nil
}

// RiverSQLitePath returns the file River uses beside the ledger's SQLite
// file.
func RiverSQLitePath(ledgerPath string) string {
	ext := filepath.Ext(ledgerPath)
	return strings.TrimSuffix(ledgerPath, ext) + "-river" + ext
}

func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], schema string, log *slog.Logger) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: schema, Logger: log})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}
