package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"go.yaml.in/yaml/v3"

	"github.com/ringside/ringside/internal/companion"
)

// The companion's autostart (agent --install / --uninstall): its settings go into a
// config file of the user's own (mode 0600: it holds the token), and the system starts
// `ringside agent --config FILE --log-file LOG` at the user's login:
//   - Linux and other Unix desktops: an XDG autostart entry,
//     $XDG_CONFIG_HOME/autostart/ringside-agent.desktop (~/.config/autostart);
//   - Windows: the value "Ringside agent" under
//     HKCU\Software\Microsoft\Windows\CurrentVersion\Run.
// The log goes to $XDG_STATE_HOME/ringside/agent.log (~/.local/state/…) or
// %LOCALAPPDATA%\Ringside\agent.log.

// installPaths are the files of an installed companion.
type installPaths struct {
	Config string // the companion's settings
	Log    string // its log
	Entry  string // the autostart entry (a file, or a registry value's description)
}

// installed is what --install leaves: the command line the system runs at login.
func installArgs(exe string, p installPaths) []string {
	return []string{exe, "agent", "--config", p.Config, "--log-file", p.Log}
}

// writeAgentConfig writes the companion's settings (what is set of cfg) to path, 0600.
func writeAgentConfig(path string, cfg companion.Config) error {
	m := map[string]any{}
	for k, v := range map[string]string{"server": cfg.Server, "token": cfg.Token, "token_env": cfg.TokenEnv, "token_file": cfg.TokenFile,
		"phone": cfg.Phone, "notify": cfg.Notify, "open_record": cfg.OpenRecord, "allow_http": cfg.AllowHTTP} {
		if v != "" {
			m[k] = v
		}
	}
	if !reflect.ValueOf(cfg.Baresip).IsZero() {
		m["baresip"] = cfg.Baresip
	}
	if !reflect.ValueOf(cfg.TAPI).IsZero() {
		m["tapi"] = cfg.TAPI
	}
	b, err := yaml.Marshal(m)
	if err != nil {
		return err
	}
	b = append([]byte("# The Ringside desktop companion's settings, written by ringside agent --install.\n# It holds the agent token: keep it private (mode 0600).\n"), b...)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// installAgent writes the settings and registers the autostart.
func installAgent(e env, cfg companion.Config) (installPaths, error) {
	p, err := agentPaths(e)
	if err != nil {
		return p, err
	}
	exe, err := os.Executable()
	if err != nil {
		return p, fmt.Errorf("finding this program: %w", err)
	}
	if x, err := filepath.EvalSymlinks(exe); err == nil {
		exe = x
	}
	if err := writeAgentConfig(p.Config, cfg); err != nil {
		return p, fmt.Errorf("writing the companion's settings: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p.Log), 0o700); err != nil {
		return p, fmt.Errorf("creating the log folder: %w", err)
	}
	if err := registerAutostart(p, installArgs(exe, p)); err != nil {
		return p, fmt.Errorf("registering the start at login: %w", err)
	}
	return p, nil
}

// uninstallAgent removes the autostart and the settings (with the token); the log stays.
// It reports whether anything was installed.
func uninstallAgent(e env) (installPaths, bool, error) {
	p, err := agentPaths(e)
	if err != nil {
		return p, false, err
	}
	had, err := unregisterAutostart(p)
	if err != nil {
		return p, had, err
	}
	if err := os.Remove(p.Config); err == nil {
		had = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return p, had, err
	}
	return p, had, nil
}
