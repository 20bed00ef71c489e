package ledgertest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
)

// DefaultPostgres is the server tests use when RUNNER_TEST_POSTGRES is unset.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// SQLite returns the path of a new SQLite file under t.TempDir().
func SQLite(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "runner.db")
}

// Postgres creates a schema of its own on the server named by
// RUNNER_TEST_POSTGRES (or DefaultPostgres) and returns a DSN whose
// search_path is that schema; the schema is dropped when the test ends. The
// test is skipped, saying why, when the server cannot be reached.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("RUNNER_TEST_POSTGRES")
	if base == "" {
		base = DefaultPostgres
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("RUNNER_TEST_POSTGRES: %v", err)
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Skipf("no PostgreSQL at %s (set RUNNER_TEST_POSTGRES to a reachable server): %v", u.Redacted(), err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "runner_test_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Dialects lists the databases a test can run against, by name.
var Dialects = []struct {
	Name string
	DSN  func(testing.TB) string
}{
	{"sqlite", SQLite},
	{"postgres", Postgres},
}
