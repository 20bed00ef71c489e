package main

import (
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// interruptChannel is closed by the first Ctrl-C or SIGTERM, which lets a
// run finish the batch in flight, record it and report; a second signal
// exits at once. code returns the exit status the signal asks for: 130 for
// SIGINT, 143 for SIGTERM (128 + its number, as shells report).
func interruptChannel(log *slog.Logger) (stop <-chan struct{}, code func() int) {
	ch := make(chan struct{})
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	var got atomic.Int32
	got.Store(exitInterrupted)
	go func() {
		s := <-sig
		if s == syscall.SIGTERM {
			got.Store(exitTerminated)
		}
		log.Warn(name(s) + "; finishing the batch in flight (again to abort)")
		close(ch)
		s = <-sig
		log.Error(name(s) + " again; aborted")
		if s == syscall.SIGTERM {
			os.Exit(exitTerminated)
		}
		os.Exit(exitInterrupted)
	}()
	return ch, func() int { return int(got.Load()) }
}

func name(s os.Signal) string {
	if s == syscall.SIGTERM {
		return "terminated"
	}
	return "interrupted"
}
