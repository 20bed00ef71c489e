package ledger

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrations are numbered files, migrations/{dialect}/NNNN_name.sql. Each
// dialect has the same numbers; a new schema change adds a file to both.
//
//go:embed migrations
var migrationFS embed.FS

// migrationLockKey is the PostgreSQL advisory lock taken while migrating, so
// that two processes opening one database at once apply each migration once.
// ("runner-ledger" as an int64, arbitrary but fixed.)
const migrationLockKey = 0x72756e6e65724c64

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	files, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files {
		num, _, ok := strings.Cut(f.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(f.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", f.Name())
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, f.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: f.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies the migrations the database lacks, all in one transaction.
// On PostgreSQL the transaction first takes an advisory lock; on SQLite it
// begins IMMEDIATE (see sqliteSource), which takes the write lock. Either
// way a second process opening at the same time waits, then finds the
// migrations applied.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.dialect)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == "postgres" {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockKey)); err != nil {
				return fmt.Errorf("lock migrations: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS ledger_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TEXT NOT NULL)`); err != nil {
			return fmt.Errorf("create migrations table: %w", err)
		}
		applied := map[int]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT version FROM ledger_migrations`)
		if err != nil {
			return fmt.Errorf("read migrations: %w", err)
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return fmt.Errorf("read migrations: %w", err)
			}
			applied[v] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read migrations: %w", err)
		}
		for _, m := range ms {
			if applied[m.version] {
				continue
			}
			for _, stmt := range splitStatements(m.sql) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("migration %s: %w", m.name, err)
				}
			}
			if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO ledger_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
				m.version, m.name, time.Now().UTC().Format(time.RFC3339)); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}

// splitStatements splits a migration at semicolons that end a line. The
// migrations hold no semicolons inside literals or function bodies, and
// running one statement per Exec works the same on both drivers.
func splitStatements(src string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(src, "\n") {
		cur.WriteString(line)
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			if st := strings.TrimSpace(cur.String()); st != ";" {
				out = append(out, strings.TrimSuffix(st, ";"))
			}
			cur.Reset()
		}
	}
	if st := strings.TrimSpace(cur.String()); st != "" {
		out = append(out, st)
	}
	return out
}
