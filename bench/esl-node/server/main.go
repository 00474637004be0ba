// Command server replays the FreeSWITCH ESL captures to any client over loopback, for the
// side-by-side benchmark of Ringside's esl connector and the Node.js modesl client. It
// plays FreeSWITCH's side of the login (auth, event subscriptions, api commands answered
// with an empty result), then streams the event frames of every call capture in the
// chosen format, repeated up to -events, then a disconnect notice, and closes.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	dir := flag.String("fixtures", "internal/telephony/esl/testdata/captures", "folder of the captures")
	format := flag.String("format", "json", "plain or json")
	events := flag.Int("events", 100000, "events to send per connection")
	flag.Parse()

	pass, n, err := load(*dir, *format)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String()) // the caller reads the address from the first line
	os.Stdout.Sync()
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c, pass, n, *events)
	}
}

// load returns the event frames of every call capture of one format, bytes intact, and
// their number.
func load(dir, format string) ([]byte, int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*."+format+".esl"))
	if err != nil || len(files) == 0 {
		return nil, 0, fmt.Errorf("no %s captures in %s", format, dir)
	}
	var out []byte
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, 0, err
		}
		for len(data) > 0 {
			end := bytes.Index(data, []byte("\n\n"))
			if end < 0 {
				return nil, 0, fmt.Errorf("%s: truncated", f)
			}
			length, event := 0, false
			for _, line := range strings.Split(string(data[:end]), "\n") {
				k, v, _ := strings.Cut(line, ": ")
				if k == "Content-Length" {
					length, _ = strconv.Atoi(v)
				}
				if k == "Content-Type" && strings.HasPrefix(v, "text/event-") {
					event = true
				}
			}
			size := end + 2 + length
			if event {
				out = append(out, data[:size]...)
				n++
			}
			data = data[size:]
		}
	}
	return out, n, nil
}

func serve(c net.Conn, pass []byte, perPass, events int) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := bufio.NewWriterSize(c, 256<<10)
	io.WriteString(w, "Content-Type: auth/request\n\n")
	w.Flush()
	started := false
	// Commands are answered in order; the stream starts at the first subscription that
	// names a channel event (modesl first subscribes to its own two events).
	for !started {
		cmd, err := readCommand(r)
		if err != nil {
			return
		}
		switch {
		case strings.HasPrefix(cmd, "auth "):
			io.WriteString(w, "Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
		case strings.HasPrefix(cmd, "event "):
			f := strings.Fields(cmd)[1]
			io.WriteString(w, "Content-Type: command/reply\nReply-Text: +OK event listener enabled "+f+"\n\n")
			started = strings.Contains(cmd, "CHANNEL_CREATE")
		case strings.HasPrefix(cmd, "api "):
			body := `{"row_count":0}`
			fmt.Fprintf(w, "Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body)
		default:
			io.WriteString(w, "Content-Type: command/reply\nReply-Text: -ERR command not found\n\n")
		}
		w.Flush()
	}
	// Drain whatever the client sends from now on (Ringside's resync queries are answered
	// before the subscription, keepalives will not come within a run).
	go io.Copy(io.Discard, r)
	for sent := 0; sent < events; sent += perPass {
		if _, err := w.Write(pass); err != nil {
			return
		}
	}
	io.WriteString(w, "Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")
	w.Flush()
}

func readCommand(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if line == "\n" {
			return b.String(), nil
		}
		b.WriteString(line)
	}
}
