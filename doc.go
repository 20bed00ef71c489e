// Package runner carries the files the runner binary needs wherever it is
// started: the example job files and the sample GoQ export, which runner
// demo runs by default.
//
// It lives at the module root because only the root can embed both
// examples/ and testdata/ where they are: go:embed cannot reach a parent
// directory, and moving the files would break the paths the README, the
// tests and people's habits use. Copies would drift.
package runner
