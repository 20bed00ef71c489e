// Command genexport writes the GoQ benchmark export, for whole-process
// measurements of runner plan:
//
//	go run ./connectors/goq/goqtest/genexport -rows 1000000 -o big.csv
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/goqsync/runner/connectors/goq/goqtest"
)

func main() {
	rows := flag.Int("rows", 1_000_000, "number of order rows")
	out := flag.String("o", "", "file to write (required)")
	flag.Parse()
	if *out == "" || *rows < 0 {
		fmt.Fprintln(os.Stderr, "usage: genexport [-rows N] -o FILE")
		os.Exit(2)
	}
	f, err := os.Create(*out)
	if err == nil {
		err = goqtest.WriteExport(f, *rows)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "genexport: %v\n", err)
		os.Exit(1)
	}
}
