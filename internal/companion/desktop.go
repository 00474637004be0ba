package companion

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"unicode/utf8"
)

// Desktop shows notifications and opens URLs on the agent's PC.
type Desktop interface {
	Notify(ctx context.Context, title, body string) error
	Open(ctx context.Context, url string) error
}

// SafeURL checks that u is an absolute http(s) URL without spaces or control
// characters: the only kind the companion hands to the system's URL opener.
func SafeURL(u string) (string, error) {
	if u == "" || len(u) > 4096 || strings.ContainsFunc(u, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '"' || r == '^' || r == '`' }) {
		return "", fmt.Errorf("companion: %q is not a URL the companion opens", cut(u, 80))
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil {
		return "", fmt.Errorf("companion: %q is not an http(s) URL", cut(u, 80))
	}
	return p.String(), nil
}

// Text makes untrusted text (caller names) safe for a notification: valid UTF-8, no
// control characters, markup characters replaced, at most n runes.
func Text(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			return ' '
		case r == '<':
			return '‹'
		case r == '>':
			return '›'
		case r == '&':
			return '+'
		}
		return r
	}, s)
	return cut(strings.Join(strings.Fields(s), " "), n)
}

func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// SystemDesktop uses the platform's tools: notify-send and xdg-open (Linux, BSD),
// osascript and open (macOS), PowerShell and rundll32 url.dll (Windows). Arguments are
// passed as separate argv entries (or environment variables for PowerShell), never
// through a shell.
type SystemDesktop struct {
	// GOOS overrides runtime.GOOS (tests).
	GOOS string
	// Run runs a command (tests replace it). Default: exec.CommandContext(...).Run
	// with env added to the process environment.
	Run func(ctx context.Context, env []string, name string, args ...string) error
}

func (d SystemDesktop) goos() string {
	if d.GOOS != "" {
		return d.GOOS
	}
	return runtime.GOOS
}

func (d SystemDesktop) run(ctx context.Context, env []string, name string, args ...string) error {
	if d.Run != nil {
		return d.Run(ctx, env, name, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("companion: %s: %w", name, err)
	}
	return nil
}

// windowsToast shows a balloon from the notification area; title and body come in
// environment variables so that no caller-controlled text is parsed as PowerShell.
const windowsToast = `Add-Type -AssemblyName System.Windows.Forms; Add-Type -AssemblyName System.Drawing; ` +
	`$n = New-Object System.Windows.Forms.NotifyIcon; $n.Icon = [System.Drawing.SystemIcons]::Information; ` +
	`$n.Visible = $true; $n.ShowBalloonTip(8000, $env:RINGSIDE_TITLE, $env:RINGSIDE_BODY, 'Info'); ` +
	`Start-Sleep -Seconds 8; $n.Dispose()`

// Notify shows a notification.
func (d SystemDesktop) Notify(ctx context.Context, title, body string) error {
	title, body = Text(title, 100), Text(body, 300)
	switch d.goos() {
	case "windows":
		return d.run(ctx, []string{"RINGSIDE_TITLE=" + title, "RINGSIDE_BODY=" + body},
			"powershell.exe", "-NoProfile", "-NonInteractive", "-WindowStyle", "Hidden", "-Command", windowsToast)
	case "darwin":
		return d.run(ctx, nil, "osascript", "-e", "on run argv", "-e",
			"display notification (item 2 of argv) with title (item 1 of argv)", "-e", "end run", title, body)
	default:
		return d.run(ctx, nil, "notify-send", "--app-name=Ringside", "--", title, body)
	}
}

// Open opens an http(s) URL in the default browser.
func (d SystemDesktop) Open(ctx context.Context, u string) error {
	u, err := SafeURL(u)
	if err != nil {
		return err
	}
	switch d.goos() {
	case "windows":
		return d.run(ctx, nil, "rundll32.exe", "url.dll,FileProtocolHandler", u)
	case "darwin":
		return d.run(ctx, nil, "open", u)
	default:
		return d.run(ctx, nil, "xdg-open", u)
	}
}

// errNoDesktop is returned by a desktop that is switched off.
var errNoDesktop = errors.New("companion: notifications are off")

// quietDesktop does nothing (notify: off).
type quietDesktop struct{}

func (quietDesktop) Notify(context.Context, string, string) error { return errNoDesktop }
func (quietDesktop) Open(context.Context, string) error           { return errNoDesktop }
