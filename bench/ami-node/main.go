//go:build !windows

// Command ami-node compares Ringside's AMI connector with the Node.js asterisk-manager
// client on the same byte stream over loopback TCP. run.sh drives it:
//
//	ami-node serve -fixtures DIR -repeat N -addr-file F   serves the captures to every client
//	ami-node client -addr HOST:PORT -events N             Ringside's decoder + correlator as a client
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/ami"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ami-node serve|client [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "client":
		err = client(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ami-node:", err)
		os.Exit(1)
	}
}

// stream is every capture's events (between the login reply and the Logoff reply).
func stream(dir string) ([]byte, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.ami"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no captures in %s", dir)
	}
	sort.Strings(files)
	var out []byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		i := bytes.Index(b, []byte("\r\n\r\n"))
		j := bytes.Index(b, []byte("Response: Goodbye\r\n"))
		if i < 0 || j < i {
			continue // login_failed
		}
		out = append(out, b[i+4:j]...)
	}
	return out, nil
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	dir := fs.String("fixtures", "internal/telephony/ami/testdata/captures", "capture folder")
	repeat := fs.Int("repeat", 200, "times the captures are sent per connection")
	addrFile := fs.String("addr-file", "", "write the listening address here")
	_ = fs.Parse(args)
	body, err := stream(*dir)
	if err != nil {
		return err
	}
	events := 0
	for _, m := range strings.Split(string(body), "\r\n\r\n") {
		if strings.HasPrefix(m, "Event: ") {
			events++
		}
	}
	all := bytes.Repeat(body, *repeat)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(fmt.Sprintf("%s %d %d\n", ln.Addr(), events**repeat, len(all))), 0o644); err != nil {
			return err
		}
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			_, _ = c.Write([]byte("Asterisk Call Manager/11.0.0\r\n"))
			r := bufio.NewReader(c)
			// Wait for the Login action (any action ends with a blank line), accept it.
			id := ""
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				l = strings.TrimRight(l, "\r\n")
				if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, "ActionID") {
					id = v
				}
				if l == "" {
					break
				}
			}
			_, _ = c.Write([]byte("Response: Success\r\nActionID: " + id + "\r\nMessage: Authentication accepted\r\n\r\n"))
			_, _ = c.Write(all)
		}()
	}
}

func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func client(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	addr := fs.String("addr", "", "server address")
	_ = fs.Parse(args)
	src, err := ami.New("bench", ami.Config{Username: "ringside", Secret: "secret"}, nil)
	if err != nil {
		return err
	}
	cpu0, t0 := cpu(), time.Now()
	c, err := net.Dial("tcp", *addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("Action: Login\r\nActionID: 1\r\nUsername: ringside\r\nSecret: secret\r\nEvents: on\r\n\r\n")); err != nil {
		return err
	}
	signals := 0
	n, err := src.Replay(c, func(call.Signal) { signals++ })
	if err != nil {
		return err
	}
	wall, used := time.Since(t0), cpu()-cpu0
	fmt.Printf("{\"client\":\"ringside (Go)\",\"events\":%d,\"signals\":%d,\"wall_s\":%.4f,\"cpu_s\":%.4f}\n", n, signals, wall.Seconds(), used.Seconds())
	return nil
}
