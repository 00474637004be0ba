//go:build !windows

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// agentPaths follows the XDG base directories (with their defaults under $HOME).
func agentPaths(e env) (installPaths, error) {
	if runtime.GOOS == "darwin" {
		return installPaths{}, errors.New("agent --install registers the companion with XDG autostart (Linux) or the Run key (Windows); on macOS add it to your login items")
	}
	home := e.getenv("HOME")
	dir := func(env, def string) (string, error) {
		if d := e.getenv(env); filepath.IsAbs(d) {
			return d, nil
		}
		if home == "" {
			return "", fmt.Errorf("neither $%s nor $HOME is set", env)
		}
		return filepath.Join(home, def), nil
	}
	cfg, err := dir("XDG_CONFIG_HOME", ".config")
	if err != nil {
		return installPaths{}, err
	}
	state, err := dir("XDG_STATE_HOME", filepath.Join(".local", "state"))
	if err != nil {
		return installPaths{}, err
	}
	return installPaths{
		Config: filepath.Join(cfg, "ringside", "agent.yaml"),
		Log:    filepath.Join(state, "ringside", "agent.log"),
		Entry:  filepath.Join(cfg, "autostart", "ringside-agent.desktop"),
	}, nil
}

// desktopEntry is the XDG autostart entry that runs args at login.
func desktopEntry(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = desktopQuote(a)
	}
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=Ringside agent\n" +
		"Comment=Ringside's desktop companion: follows the local phone and pops callers\n" +
		"Exec=" + strings.Join(q, " ") + "\n" +
		"Terminal=false\n" +
		"NoDisplay=true\n" +
		"X-GNOME-Autostart-enabled=true\n"
}

// desktopQuote quotes an argument of Exec as the Desktop Entry Specification says: in
// double quotes, with ", `, $ and \ escaped by a backslash, and % doubled; the value's
// own escapes then double each backslash.
func desktopQuote(a string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range a {
		switch r {
		case '"', '`', '$', '\\':
			b.WriteString(`\\`)
			b.WriteRune(r)
		case '%':
			b.WriteString("%%")
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func registerAutostart(p installPaths, args []string) error {
	if err := os.MkdirAll(filepath.Dir(p.Entry), 0o700); err != nil {
		return err
	}
	tmp := p.Entry + ".new"
	if err := os.WriteFile(tmp, []byte(desktopEntry(args)), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p.Entry)
}

func unregisterAutostart(p installPaths) (bool, error) {
	err := os.Remove(p.Entry)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	}
	return false, err
}
