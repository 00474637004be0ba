package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/ringside/ringside/internal/version"
)

func runVersion(_ context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("ringside version", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	asJSON := fs.Bool("json", false, "print version, commit, date and Go version as JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	in := version.Get()
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(in)
	}
	_, err := fmt.Fprintln(e.stdout, in.String())
	return err
}
