// Command sbom writes a CycloneDX 1.5 SBOM (JSON) of the Go modules compiled into a
// binary, from the build info the Go toolchain records in it.
//
// Usage: go run ./scripts/sbom BINARY VERSION UNIX-TIME > ringside.cdx.json
//
// The output depends only on its arguments and the binary, so release builds stay
// reproducible: the serial number is derived from the content, the timestamp is the
// commit's time given on the command line.
package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

type component struct {
	Type    string `json:"type"`
	BOMRef  string `json:"bom-ref"`
	Name    string `json:"name"`
	Version string `json:"version"`
	PURL    string `json:"purl"`
	// Properties carries go.sum's h1: hash (a SHA-256 over the module's file list, which
	// CycloneDX's hash algorithms cannot name).
	Properties []property `json:"properties,omitempty"`
}

type bom struct {
	BOMFormat    string      `json:"bomFormat"`
	SpecVersion  string      `json:"specVersion"`
	SerialNumber string      `json:"serialNumber"`
	Version      int         `json:"version"`
	Metadata     metadata    `json:"metadata"`
	Components   []component `json:"components"`
	Dependencies []dep       `json:"dependencies"`
}

type metadata struct {
	Timestamp  string     `json:"timestamp"`
	Component  component  `json:"component"`
	Properties []property `json:"properties"`
}

type property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type dep struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sbom:", err)
		os.Exit(1)
	}
}

func run(args []string, w io.Writer) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: sbom BINARY VERSION UNIX-TIME")
	}
	bi, err := buildinfo.ReadFile(args[0])
	if err != nil {
		return fmt.Errorf("read build info of %s: %w", args[0], err)
	}
	sec, err := strconv.ParseInt(args[2], 10, 64)
	if err != nil {
		return fmt.Errorf("time %q: %w", args[2], err)
	}
	b, err := build(bi, args[1], time.Unix(sec, 0))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(b)
}

func purl(path, version string) string {
	return "pkg:golang/" + path + "@" + version
}

func build(bi *buildinfo.BuildInfo, version string, at time.Time) (*bom, error) {
	main := component{Type: "application", Name: bi.Main.Path, Version: version, PURL: purl(bi.Main.Path, version)}
	main.BOMRef = main.PURL
	b := &bom{BOMFormat: "CycloneDX", SpecVersion: "1.5", Version: 1,
		Metadata: metadata{Timestamp: at.UTC().Format(time.RFC3339), Component: main,
			Properties: []property{{Name: "go:version", Value: bi.GoVersion}}}}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.time", "GOOS", "GOARCH", "CGO_ENABLED", "-trimpath":
			b.Metadata.Properties = append(b.Metadata.Properties, property{Name: "go:build:" + s.Key, Value: s.Value})
		}
	}
	d := dep{Ref: main.BOMRef, DependsOn: []string{}}
	for _, m := range bi.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		c := component{Type: "library", Name: m.Path, Version: m.Version, PURL: purl(m.Path, m.Version)}
		c.BOMRef = c.PURL
		if m.Sum != "" {
			c.Properties = []property{{Name: "go:module:sum", Value: m.Sum}}
		}
		b.Components = append(b.Components, c)
		d.DependsOn = append(d.DependsOn, c.BOMRef)
	}
	b.Dependencies = []dep{d}
	content, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(content)
	sum[6] = sum[6]&0x0f | 0x50 // a name-based (v5-style) UUID from the content
	sum[8] = sum[8]&0x3f | 0x80
	b.SerialNumber = fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	return b, nil
}
