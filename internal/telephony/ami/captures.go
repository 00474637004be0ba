package ami

import (
	"embed"
	"io/fs"
)

// The real Asterisk captures (testdata/captures, see its README) are embedded so that
// `ringside bench --source ami` replays them from the binary alone.
//
//go:embed testdata/captures/*.ami
var captures embed.FS

// Captures returns the real Asterisk 22 AMI captures, one file per call scenario
// (<scenario>.ami), unchanged byte for byte.
func Captures() fs.FS {
	sub, err := fs.Sub(captures, "testdata/captures")
	if err != nil {
		panic(err) // the pattern above guarantees the folder
	}
	return sub
}
