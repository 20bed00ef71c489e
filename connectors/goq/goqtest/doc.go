// Package goqtest makes GoQ exports for benchmarks and whole-process
// measurements. It is not a GoQ client and holds no test assertions.
package goqtest
