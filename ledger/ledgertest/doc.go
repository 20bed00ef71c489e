// Package ledgertest gives tests a database of their own: a SQLite file in
// the test's temporary directory, or a fresh schema on a real PostgreSQL
// server. It is for tests only.
package ledgertest
