package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/loadtest"
)

func runBench(ctx context.Context, e env, args []string) error {
	var c common
	fs := newFlags("bench", e, &c)
	var cfg loadtest.Config
	fs.IntVar(&cfg.Agents, "agents", 100, "simulated agents, one WebSocket each")
	fs.Float64Var(&cfg.Rate, "rate", 10, "calls per second (0: agents only, to measure idle memory)")
	fs.DurationVar(&cfg.Duration, "duration", 10e9, "how long calls are placed, once the agents are connected")
	fs.StringVar(&cfg.Source, "source", "webhook", "how calls reach the server: webhook or ami (a fake Asterisk replaying the captures)")
	servers := fs.String("server", "", "base URL of a running server, or several separated by commas (agents are spread over them; calls go to the first); default: a server in-process on a temp data dir")
	fs.IntVar(&cfg.DirectorySize, "directory-size", 10000, "generated contacts in the in-process server's built-in directory")
	fs.StringVar(&cfg.Fixtures, "fixtures", "", "folder of AMI captures (default: the real Asterisk captures embedded in the binary)")
	fs.StringVar(&cfg.Scenario, "scenario", "inbound_answered", "capture replayed with --source ami")
	fs.StringVar(&cfg.AMIListen, "ami-listen", "127.0.0.1:0", "address of the fake AMI (remote servers must be configured with it)")
	fs.DurationVar(&cfg.Ring, "ring", 1e9, "how long a call rings before it is answered")
	fs.DurationVar(&cfg.Talk, "talk", 2e9, "how long an answered call lasts")
	asJSON := fs.Bool("json", false, "print the result as a JSON object instead of the summary line")
	quiet := fs.Bool("quiet", false, "no progress line")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if cfg.Source != "webhook" && cfg.Source != "ami" {
		return usagef("--source %q is not webhook or ami", cfg.Source)
	}
	if cfg.Agents <= 0 || cfg.Rate < 0 || cfg.Duration <= 0 {
		return usagef("--agents and --duration must be positive, --rate not negative")
	}
	if *servers != "" {
		for _, s := range strings.Split(*servers, ",") {
			cfg.Servers = append(cfg.Servers, strings.TrimRight(strings.TrimSpace(s), "/"))
		}
	}
	if *servers != "" || c.configFile != "" || e.getenv("RINGSIDE_CONFIG") != "" {
		sc, err := c.load(e)
		if err != nil {
			return err
		}
		cfg.Server = sc
	}
	if !*quiet {
		cfg.Progress = e.stderr
	}
	lc := cfg.Server
	if lc == nil {
		lc = config.Default()
	}
	cfg.Log = quietLogger(e.stderr, lc)
	res, err := loadtest.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintln(e.stderr, res.Details())
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		return enc.Encode(res)
	}
	_, err = fmt.Fprintln(e.stdout, res.String())
	return err
}
