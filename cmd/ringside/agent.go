package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"

	"github.com/ringside/ringside/internal/companion"
	"github.com/ringside/ringside/internal/telephony/tapi"
)

// runAgent is `ringside agent`: the desktop companion on the agent's PC.
func runAgent(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("ringside agent", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	file := fs.String("config", "", "the companion's own config file (YAML, see internal/companion/README.md; default $RINGSIDE_AGENT_CONFIG)")
	server := fs.String("server", "", "the Ringside server's URL, e.g. https://ringside.example.com")
	token := fs.String("token", "", "the agent token (ringside tokens create --user NAME); default $RINGSIDE_AGENT_TOKEN")
	phone := fs.String("phone", "", "the local phone: baresip[:HOST:PORT] or tapi[:LINE] (default baresip)")
	notify := fs.String("notify", "", "desktop notifications: on or off (default on)")
	openRecord := fs.String("open-record", "", "open the caller's CRM record: rules, ringing or off (default rules)")
	allowHTTP := fs.Bool("allow-http", false, "allow a plain http:// server that is not on this machine")
	listLines := fs.Bool("list-lines", false, "list this PC's TAPI lines and exit")
	check := fs.Bool("check", false, "check the server, the token and the phone, then exit")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFile := fs.String("log-file", "", "append the log to this file instead of standard error")
	install := fs.Bool("install", false, "start the companion at this user's login with these settings (saved to a file of the user's own), then exit")
	uninstall := fs.Bool("uninstall", false, "stop starting the companion at login and remove its saved settings, then exit")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q (usage: ringside agent --server URL --token TOKEN --phone baresip|tapi[:LINE])", pos[0])
	}
	if *listLines {
		return printLines(ctx, e)
	}
	if *uninstall {
		if *install {
			return usagef("--install and --uninstall exclude each other")
		}
		p, had, err := uninstallAgent(e)
		if err != nil {
			return err
		}
		if !had {
			fmt.Fprintln(e.stdout, "the companion was not installed for this user")
			return nil
		}
		fmt.Fprintf(e.stdout, "removed the start at login (%s) and the settings (%s); the log stays in %s\n", p.Entry, p.Config, p.Log)
		return nil
	}

	var cfg companion.Config
	path := *file
	if path == "" {
		path = e.getenv("RINGSIDE_AGENT_CONFIG")
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return configError{fmt.Errorf("agent config: %w", err)}
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && err.Error() != "EOF" {
			return configError{fmt.Errorf("%s: %w", path, err)}
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Server, *server)
	set(&cfg.Token, *token)
	set(&cfg.Phone, *phone)
	set(&cfg.Notify, *notify)
	set(&cfg.OpenRecord, *openRecord)
	if *allowHTTP {
		cfg.AllowHTTP = "on"
	}
	cfg.Getenv = e.getenv

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level: %q is not debug, info, warn or error", *logLevel)
	}
	logTo := e.stderr
	if *logFile != "" && !*install {
		f, err := os.OpenFile(*logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("--log-file: %w", err)
		}
		defer f.Close()
		logTo = f
	}
	log := slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: lvl})).With("component", "companion")
	c, err := companion.New(cfg, log, companion.Options{})
	if err != nil {
		return configError{err}
	}
	if *install {
		p, err := installAgent(e, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "the companion starts at this user's login: %s\nsettings (with the token, mode 0600): %s\nlog: %s\nremove with: ringside agent --uninstall\n", p.Entry, p.Config, p.Log)
		return nil
	}
	if *check {
		return c.Check(ctx, e.stdout)
	}
	log.Info("starting", "server", cfg.Server, "phone", cfg.Phone)
	return c.Run(ctx)
}

// printLines is `ringside agent --list-lines`.
func printLines(ctx context.Context, e env) error {
	lines, err := tapi.ListLines(ctx, tapi.DefaultAppName)
	if err != nil {
		if errors.Is(err, tapi.ErrUnsupported) {
			return fmt.Errorf("%w: --list-lines lists the lines of a Windows PC; on this system use --phone baresip", err)
		}
		return err
	}
	if len(lines) == 0 {
		fmt.Fprintln(e.stdout, "no TAPI lines: install your phone system's TAPI service provider (Control Panel → Phone and Modem → Advanced)")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPROVIDER\tVOICE\tADDRESSES\tNOTE")
	for _, l := range lines {
		voice := "no"
		if l.Voice {
			voice = "yes"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", l.ID, l.Name, l.Provider, voice, l.Addresses, l.Err)
	}
	tw.Flush()
	fmt.Fprintln(e.stdout, "\nfollow a line with --phone tapi:ID or --phone tapi:\"part of its name\"")
	return nil
}
