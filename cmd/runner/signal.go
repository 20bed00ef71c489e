package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
)

// interruptChannel is closed by the first Ctrl-C, which lets a run finish
// the batch in flight and report; a second Ctrl-C exits at once.
func interruptChannel(stderr io.Writer) <-chan struct{} {
	stop := make(chan struct{})
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt)
	go func() {
		<-sig
		fmt.Fprintln(stderr, "runner: interrupted; finishing the batch in flight (Ctrl-C again to abort)")
		close(stop)
		<-sig
		fmt.Fprintln(stderr, "runner: aborted")
		os.Exit(exitInterrupted)
	}()
	return stop
}
