package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows/registry"
)

const (
	runKey   = `Software\Microsoft\Windows\CurrentVersion\Run`
	runValue = "Ringside agent"
)

// agentPaths: the settings under %APPDATA%\Ringside (roaming with the profile), the log
// under %LOCALAPPDATA%\Ringside.
func agentPaths(e env) (installPaths, error) {
	appData, local := e.getenv("APPDATA"), e.getenv("LOCALAPPDATA")
	if appData == "" || local == "" {
		return installPaths{}, errors.New("%APPDATA% or %LOCALAPPDATA% is not set")
	}
	return installPaths{
		Config: filepath.Join(appData, "Ringside", "agent.yaml"),
		Log:    filepath.Join(local, "Ringside", "agent.log"),
		Entry:  `HKCU\` + runKey + `\` + runValue,
	}, nil
}

// runCommand quotes args for the Run key (CommandLineToArgvW's rules: each argument in
// double quotes; a path holds no quotes).
func runCommand(args []string) (string, error) {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsRune(a, '"') {
			return "", fmt.Errorf("%q: a path with a double quote", a)
		}
		if strings.HasSuffix(a, `\`) {
			a += `\`
		}
		q[i] = `"` + a + `"`
	}
	return strings.Join(q, " "), nil
}

func registerAutostart(_ installPaths, args []string) error {
	cmd, err := runCommand(args)
	if err != nil {
		return err
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return err
	}
	defer k.Close()
	return k.SetStringValue(runValue, cmd)
}

func unregisterAutostart(installPaths) (bool, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		if errors.Is(err, registry.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	defer k.Close()
	err = k.DeleteValue(runValue)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, registry.ErrNotExist):
		return false, nil
	}
	return false, err
}
