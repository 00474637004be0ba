package esl

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// dialable is a number FreeSWITCH can dial once the usual punctuation is gone.
var dialable = regexp.MustCompile(`^\+?[0-9*#]{1,32}$`)

// Dial makes the phone on extension call number: FreeSWITCH rings that phone first and,
// once it answers, dials the number (bgapi originate). It returns when FreeSWITCH reports
// the result of the originate (BACKGROUND_JOB), that is when the agent has picked up or the
// attempt failed; the error says why in the user's terms.
func (s *Source) Dial(ctx context.Context, extension, number string) error {
	s.stats.dials.Add(1)
	err := s.dial(ctx, extension, number)
	if err != nil {
		s.stats.dialsFailed.Add(1)
	}
	return err
}

func (s *Source) dial(ctx context.Context, extension, number string) error {
	if !s.set.ext.MatchString(extension) || !safeArg.MatchString(extension) || strings.Contains(extension, " ") {
		return fmt.Errorf("esl: dial: %q is not an extension of this phone system", extension)
	}
	num := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '(', ')', '/', '.', '\u00a0':
			return -1
		}
		return r
	}, number)
	if !dialable.MatchString(num) {
		return fmt.Errorf("esl: dial: %q is not a number FreeSWITCH can dial", number)
	}
	s.mu.Lock()
	ss := s.cur
	s.mu.Unlock()
	if ss == nil {
		return errors.New("esl: dial: not connected to FreeSWITCH; try again in a moment")
	}
	legID, jobID := s.newID(), s.newID()
	dialID := "ringside-" + jobID[:8]
	cmd := s.originate(legID, dialID, extension, num) + "\nJob-UUID: " + jobID + "\n\n"

	job := make(chan string, 1)
	ss.wmu.Lock()
	if ss.jobs == nil {
		ss.wmu.Unlock()
		return fmt.Errorf("esl: dial: %w", errLost)
	}
	ss.jobs[jobID] = job
	ss.wmu.Unlock()
	s.mu.Lock()
	s.dials[dialID] = num
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.dials, dialID)
		s.mu.Unlock()
		ss.wmu.Lock()
		delete(ss.jobs, jobID)
		ss.wmu.Unlock()
	}()

	rc := make(chan reply, 1)
	if err := ss.send(cmd, waiter{ch: rc}); err != nil {
		return fmt.Errorf("esl: dial: %w", err)
	}
	s.log.Debug("originate sent", "extension", extension, "number", num, "job", jobID)
	select {
	case r := <-rc:
		if r.err != nil {
			return fmt.Errorf("esl: dial: %w", r.err)
		}
		if !strings.HasPrefix(r.text, "+OK") {
			return fmt.Errorf("esl: dial: FreeSWITCH refused the originate: %s", r.text)
		}
	case <-ctx.Done():
		return fmt.Errorf("esl: dial: %w", ctx.Err())
	}
	select {
	case res, ok := <-job:
		if !ok {
			return fmt.Errorf("esl: dial: %w before the result of the call arrived; the call may still be placed", errLost)
		}
		return dialResult(extension, res)
	case <-ctx.Done():
		return fmt.Errorf("esl: dial: waiting for phone %s to answer: %w", extension, ctx.Err())
	}
}

// originate builds the bgapi originate command (without the Job-UUID header).
func (s *Source) originate(legID, dialID, extension, number string) string {
	o := s.set.orig
	vars := []string{
		"origination_uuid=" + legID,
		// What the agent's phone shows while it rings: the number it is about to call.
		"origination_caller_id_name='" + number + "'",
		"origination_caller_id_number=" + number,
		"originate_timeout=" + strconv.Itoa(int(o.Timeout.Seconds())),
		"ringside_dial_id=" + dialID,
	}
	cid := func(prefix string) []string {
		var v []string
		if o.CallerIDName != "" {
			v = append(v, prefix+"caller_id_name='"+o.CallerIDName+"'")
		}
		if o.CallerIDNumber != "" {
			v = append(v, prefix+"caller_id_number="+o.CallerIDNumber)
		}
		return v
	}
	endpoint := strings.ReplaceAll(o.Endpoint, "{extension}", extension)
	if o.Bridge != "" {
		target := strings.ReplaceAll(o.Bridge, "{number}", number)
		if v := cid("origination_"); len(v) > 0 {
			target = "{" + strings.Join(v, ",") + "}" + target
		}
		return "bgapi originate {" + strings.Join(vars, ",") + "}" + endpoint + " &bridge(" + target + ")"
	}
	// Through the dialplan: the agent's leg carries the caller ID for the outside leg.
	vars = append(vars, cid("effective_")...)
	return "bgapi originate {" + strings.Join(vars, ",") + "}" + endpoint + " " + number + " " + o.Dialplan + " " + o.Context
}

// dialResult turns a BACKGROUND_JOB body ("+OK <uuid>", "-ERR USER_BUSY") into an error in
// the user's terms.
func dialResult(extension, res string) error {
	res = strings.TrimSpace(res)
	if strings.HasPrefix(res, "+OK") {
		return nil
	}
	cause := strings.TrimSpace(strings.TrimPrefix(res, "-ERR"))
	switch cause {
	case "USER_BUSY":
		return fmt.Errorf("esl: dial: the phone at extension %s is busy", extension)
	case "NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "PROGRESS_TIMEOUT":
		return fmt.Errorf("esl: dial: the phone at extension %s did not answer", extension)
	case "USER_NOT_REGISTERED", "SUBSCRIBER_ABSENT":
		return fmt.Errorf("esl: dial: the phone at extension %s is not registered", extension)
	case "CALL_REJECTED":
		return fmt.Errorf("esl: dial: the phone at extension %s rejected the call", extension)
	case "ORIGINATOR_CANCEL":
		return fmt.Errorf("esl: dial: the call was cancelled")
	}
	if len(cause) > 200 {
		cause = cause[:200]
	}
	return fmt.Errorf("esl: dial: FreeSWITCH could not place the call (%s)", strings.ToValidUTF8(cause, "?"))
}
