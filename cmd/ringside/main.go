// Command ringside is computer telephony integration for CRMs: one server that follows the
// phone system, finds the caller in the CRM and pops them to the agent's browser.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	// Time-zone data in the binary: rules' office hours work where the system has none
	// (the FROM scratch container, Windows).
	_ "time/tzdata"

	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/logmask"
)

// Exit codes.
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitBadConfig = 3
)

// env is what a command needs from its surroundings, so tests can run commands in-process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

type command struct {
	name  string
	usage string
	run   func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the server", runServe},
		{"simulate", "place realistic calls against a running server", runSimulate},
		{"lookup", "look a number up in the configured CRM", runLookup},
		{"import", "load accounts, contacts and leads from a CSV file into the built-in directory", runImport},
		{"users", "add, list and change agents: users add|list|passwd", runUsers},
		{"tokens", "create and list API tokens: tokens create|list", runTokens},
		{"dial", "click-to-dial from the command line", runDial},
		{"config", "check a config file: config check [FILE] [--connect]", runConfig},
		{"crm", "bring the CRM's local phone index up to date, or check CRM access: crm sync [--full] | crm check", runCRM},
		{"bench", "load harness: simulated agents and calls, latency percentiles", runBench},
		{"outbox", "see and steer CRM writes and webhooks: outbox list [--parked] | retry ID…|--all | drop ID…", runOutbox},
		{"purge", "remove journal entries, delivered outbox rows and audit entries older than the retention: purge [--dry-run]", runPurge},
		{"forget", "remove a caller's number, name and notes from the journal: forget NUMBER", runForget},
		{"agent", "the desktop companion: follow the local softphone (baresip) or TAPI line", runAgent},
		{"backup", "write a consistent copy of the SQLite store, also while serve runs: backup FILE", runBackup},
		{"restore", "replace the SQLite store with a backup (refused while serve runs): restore FILE", runRestore},
		{"version", "print version, commit, build date and Go version", runVersion},
		{"health", "exit 0 when the running server answers /healthz (for container health checks)", runHealth},
	}
}

func main() {
	// The first signal cancels the context (graceful stop); stop() then restores the
	// default handler, so a second one kills the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:]))
}

func run(ctx context.Context, e env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			switch {
			case err == nil:
				return exitOK
			case errors.Is(err, flag.ErrHelp):
				return exitOK
			case errors.As(err, new(usageError)):
				fmt.Fprintf(e.stderr, "ringside %s: %v\n", c.name, err)
				return exitUsage
			case errors.As(err, new(configError)):
				fmt.Fprintf(e.stderr, "ringside %s: %v\n", c.name, err)
				return exitBadConfig
			}
			fmt.Fprintf(e.stderr, "ringside %s: %v\n", c.name, err)
			return exitFailure
		}
	}
	fmt.Fprintf(e.stderr, "ringside: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ringside COMMAND [--config FILE] [--data DIR] [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nringside COMMAND -h shows a command's flags.")
}

type usageError struct{ error }
type configError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// common holds the flags every command takes.
type common struct {
	configFile string
	dataDir    string
}

func newFlags(name string, e env, c *common) *flag.FlagSet {
	fs := flag.NewFlagSet("ringside "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&c.configFile, "config", "", "config file (default: $RINGSIDE_CONFIG, else embedded defaults)")
	fs.StringVar(&c.dataDir, "data", "", "data directory (default: the config's data_dir, ./ringside-data)")
	return fs
}

// parse parses flags, allowing them after positional arguments too
// ("ringside lookup 030123 --json").
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// load reads the config the common flags name.
func (c *common) load(e env) (*config.Config, error) {
	file := c.configFile
	if file == "" {
		file = e.getenv("RINGSIDE_CONFIG")
	}
	cfg, err := config.Load(file)
	if err != nil {
		return nil, configError{err}
	}
	if c.dataDir != "" {
		cfg.DataDir = c.dataDir
	} else if d := e.getenv("RINGSIDE_DATA"); d != "" {
		cfg.DataDir = d
	}
	return cfg, nil
}

// newLogger is the logger of serve. Other commands use quietLogger: their output is for
// the person at the terminal.
func newLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	return leveledLogger(w, cfg, new(slog.LevelVar))
}

// leveledLogger is newLogger with its level in lv, which a reload changes.
func leveledLogger(w io.Writer, cfg *config.Config, lv *slog.LevelVar) *slog.Logger {
	switch strings.ToLower(cfg.LogLevel) {
	case "debug":
		lv.Set(slog.LevelDebug)
	case "warn":
		lv.Set(slog.LevelWarn)
	case "error":
		lv.Set(slog.LevelError)
	default:
		lv.Set(slog.LevelInfo)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(logmask.New(h, logmask.Options{MaskNumbers: cfg.LogMaskNumbers}))
}

func quietLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	c := *cfg
	if c.LogLevel != "debug" {
		c.LogLevel = "warn"
	}
	return newLogger(w, &c)
}
