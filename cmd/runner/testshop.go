package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/scheduler"
)

// testshop runs the project's futureshop test server as a process of its
// own until SIGINT or SIGTERM, seeded with the orders a job would send from
// an export, so that a client's own export can be rehearsed end to end with
// run or serve before it goes near the real shop.
func (c *cli) testshop(ctx context.Context, args []string) int {
	var jf jobFlags
	fs := c.flagSet("testshop", "", nil, false)
	addr := fs.String("addr", "127.0.0.1:0", "the `address` to listen on, on loopback (port 0: any free port)")
	seedFrom := fs.String("seed-from", "", "a GoQ `export`: seed the shop with the orders the -job file would send from it")
	jobFile := fs.String("job", "", "the job `file` that reads -seed-from, through its variable "+exportVar)
	fs.Var(varFlag{list: &jf.vars}, "var", "set a variable of the -job file: -var name=value (repeatable)")
	fs.Var(varFlag{list: &jf.vars, file: true}, "var-file", "read the -job file's variables from an HCL file (repeatable)")
	fs.StringVar(&jf.now, "now", "", "pin the -job file's clock while seeding, RFC 3339; give the run the same")
	statePath := fs.String("state", "", "keep the shop's orders in this JSON `file`: loaded at start when present, saved on shutdown")
	rps := fs.Float64("rate", futureshoptest.DefaultRateLimit, "requests a second the shop allows, token requests included, answering 429 beyond (0: no limit)")
	burst := fs.Int("burst", futureshoptest.DefaultBurst, "requests the shop allows at once within -rate")
	ttl := fs.Duration("token-ttl", futureshoptest.DefaultTokenTTL, "how long an access token lives; calls with an expired one answer 401")
	pickup := fs.String("store-pickup", "", "`order numbers`, comma-separated, whose shipments are store pickup: futureshop refuses to update them (CannotUpdateStorePickup)")
	failNext := fs.Int("fail-next", 0, "answer the next N API calls (not token requests) with 503 and Retry-After: 1")
	if code, ok := c.parseArgs(fs, args, 0, 0); !ok {
		return code
	}
	switch {
	case (*seedFrom == "") != (*jobFile == ""):
		fmt.Fprintln(c.stderr, "runner testshop: -seed-from and -job go together: the job decides which orders of the export it would send")
		return exitConfig
	case !scheduler.Loopback(*addr):
		// The connector speaks plain http only on loopback, and the test
		// shop's credentials are public.
		fmt.Fprintf(c.stderr, "runner testshop: -addr %s is not a loopback address\n", *addr)
		return exitConfig
	case *rps < 0 || *burst < 1 || *ttl <= 0 || *failNext < 0:
		fmt.Fprintln(c.stderr, "runner testshop: -rate and -fail-next must not be negative, -burst must be at least 1 and -token-ttl over 0")
		return exitConfig
	}

	// Seed before listening: a job that does not load takes no port.
	var seed []futureshoptest.Order
	if *seedFrom != "" {
		cfg, ok := c.loadWithExport(*jobFile, *seedFrom, &jf, "testshop")
		if !ok {
			return exitConfig
		}
		var err error
		if seed, err = c.shopOrders(ctx, cfg); err != nil {
			fmt.Fprintf(c.stderr, "runner testshop: %s: %v\n", *jobFile, err)
			return exitConfig
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner testshop: %v\n", err)
		return exitConfig
	}
	// Answers end on the server's goroutines while this one writes too.
	errw := &lockedWriter{w: c.stderr}
	srv := futureshoptest.NewServer(futureshoptest.WithListener(ln), futureshoptest.WithRateLimit(*rps, *burst),
		futureshoptest.WithTokenTTL(*ttl), futureshoptest.WithRequestLog(func(r futureshoptest.Request) {
			status := strconv.Itoa(r.Status)
			if r.Status == 0 {
				status = "-" // the client left before the answer
			}
			fmt.Fprintf(errw, "%s %s %s %s %s\n", r.Time.Format("15:04:05.000"), r.Method, r.Path, status, r.Duration.Round(time.Microsecond))
		}))
	defer srv.Close()

	loaded := 0
	if *statePath != "" {
		f, err := os.Open(*statePath)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			fmt.Fprintf(c.stderr, "runner testshop: -state: %v\n", err)
			return exitConfig
		default:
			err = srv.LoadState(f)
			f.Close()
			if err != nil {
				fmt.Fprintf(c.stderr, "runner testshop: -state %s: %v\n", *statePath, err)
				return exitConfig
			}
			loaded = len(srv.Orders())
		}
	}
	// What the state holds stands: seeding again must not undo a
	// rehearsal's updates.
	seeded := 0
	for _, o := range seed {
		if _, ok := srv.Order(o.OrderNo); !ok {
			srv.AddOrder(o)
			seeded++
		}
	}
	for no := range strings.SplitSeq(*pickup, ",") {
		if no = strings.TrimSpace(no); no == "" {
			continue
		}
		o, ok := srv.Order(no)
		if !ok {
			fmt.Fprintf(c.stderr, "runner testshop: -store-pickup %s: no such order in the shop\n", no)
			return exitConfig
		}
		for i := range o.Shipments {
			o.Shipments[i].StorePickup = true
		}
		srv.AddOrder(o)
	}
	if *failNext > 0 {
		srv.FailNext(*failNext, 503)
	}

	// One write, so that a reader of a file or pipe never sees half of it.
	fmt.Fprint(c.stdout, exportLines(srv))
	if c.stdout == os.Stdout {
		// The end of stdout lets eval "$(runner testshop … &)" return
		// while the shop keeps running.
		os.Stdout.Close()
	}
	fmt.Fprintf(errw, "runner testshop: futureshop test server on %s with %d order(s)", srv.URL, len(srv.Orders()))
	if *seedFrom != "" {
		fmt.Fprintf(errw, ", %d seeded from %s by %s", seeded, *seedFrom, *jobFile)
	}
	if loaded > 0 {
		fmt.Fprintf(errw, ", %d from %s", loaded, *statePath)
	}
	fmt.Fprintf(errw, "; stop it with Ctrl-C or kill %d\n", os.Getpid())

	stop, cancel := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	<-stop.Done()
	srv.Close() // waits for the answers in flight, so the state holds them
	if *statePath != "" {
		if err := saveState(srv, *statePath); err != nil {
			fmt.Fprintf(errw, "runner testshop: -state: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(errw, "runner testshop: stopped; %d order(s) saved to %s\n", len(srv.Orders()), *statePath)
		return exitOK
	}
	fmt.Fprintln(errw, "runner testshop: stopped")
	return exitOK
}

// exportLines are the shell lines that point the job files' env() at srv.
func exportLines(srv *futureshoptest.Server) string {
	var b strings.Builder
	for _, kv := range [][2]string{
		{"FUTURESHOP_API_DOMAIN", srv.URL},
		{"FUTURESHOP_SHOP_KEY", srv.ShopKey},
		{"FUTURESHOP_CLIENT_ID", srv.ClientID},
		{"FUTURESHOP_CLIENT_SECRET", srv.ClientSecret},
	} {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	return b.String()
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell, when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// saveState writes the shop's orders to path all at once: a crash while
// saving leaves the previous state whole.
func saveState(srv *futureshoptest.Server, path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename, there is nothing to remove
	if err := srv.SaveState(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
