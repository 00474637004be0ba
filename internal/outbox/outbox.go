// Package outbox delivers the store's durable outbox: it claims due items, hands each to
// the handler for its kind, and completes, retries (with backoff) or parks it, so that
// CRM writes and webhooks survive restarts, outages and crashes.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/store"
)

// A Handler delivers one item. It must be idempotent on it.Key: after a crash or a lost
// lease the same item may be delivered again. Return an error wrapping crm.ErrUnavailable
// (or a network error or timeout) for faults worth retrying; any other error parks the
// item (wrap ErrPermanent to say so explicitly).
type Handler func(ctx context.Context, it store.OutboxItem) error

// ErrPermanent marks a handler error that retrying cannot fix (a rejected request, a
// malformed payload): the item is parked for an admin.
var ErrPermanent = errors.New("outbox: permanent failure")

// Options tune a Worker; zero values take the defaults given.
type Options struct {
	Workers     int              // deliveries at once (each stream still one at a time); default 32
	Lease       time.Duration    // how long a claim lasts unless renewed; renewed every Lease/3 while a delivery runs; default 1m
	Timeout     time.Duration    // longest one delivery may take; default 5m
	Poll        time.Duration    // how often to look for due items without a Kick; default 1s
	MinBackoff  time.Duration    // first retry delay; default 1s
	MaxBackoff  time.Duration    // longest retry delay; default 5m
	MaxAge      time.Duration    // temporary errors are retried this long (from Since), then the item parks; default 24h
	MaxAttempts int              // attempts before a transient failure parks the item; 0 = no limit (MaxAge applies)
	PerDest     int              // deliveries at once to one destination (one webhook URL, the CRM); default half the workers
	Batch       int              // deprecated: the number of workers when Workers is 0
	Now         func() time.Time // clock for claims and retry times; default time.Now
}

// DefaultWorkers is the size of the delivery pool when Options.Workers is 0.
const DefaultWorkers = 32

// A Worker delivers outbox items with a bounded pool of deliveries. Each stream (an
// item's group: one destination of one call) is delivered in order, one item at a time;
// streams are delivered concurrently, so a slow or dead destination delays only its own
// streams. Several workers (in one process or many) may share a store: the store's
// claims, renewed while a delivery runs, make sure one item is delivered by one worker
// at a time.
type Worker struct {
	st       *store.Store
	owner    string
	handlers map[string]Handler
	log      *slog.Logger
	opts     Options
	kick     chan struct{}

	pauseMu sync.Mutex
	paused  map[string]time.Time // destination -> until when it asked us to wait (Retry-After)
}

// New returns a worker that claims items as owner (unique per worker, e.g.
// "host:pid") and delivers them with handlers by kind. It does no I/O.
func New(st *store.Store, owner string, handlers map[string]Handler, log *slog.Logger, opts Options) *Worker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Workers <= 0 {
		opts.Workers = opts.Batch
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.PerDest <= 0 {
		opts.PerDest = max(1, opts.Workers/2)
	}
	if opts.Lease <= 0 {
		opts.Lease = time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.MaxAge <= 0 {
		opts.MaxAge = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	hs := make(map[string]Handler, len(handlers))
	for k, h := range handlers {
		hs[k] = h
	}
	return &Worker{st: st, owner: owner, handlers: hs, log: log, opts: opts, kick: make(chan struct{}, 1), paused: map[string]time.Time{}}
}

// Kick wakes the worker now (after an Enqueue) instead of at its next poll.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run delivers items until ctx is done, then waits for the deliveries under way (which
// see ctx cancelled) and returns nil. Store errors are logged and retried at the next
// poll.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	type fin struct {
		id   int64
		dest string
	}
	done := make(chan fin, w.opts.Workers) // a finished delivery
	// Items being delivered now. The next Claim may return one of them again, for one
	// of two reasons the worker cannot tell apart at that moment: this worker's claim
	// lapsed during the delivery (its renewal stalled past the lease), or the delivery
	// has already recorded its outcome (a retry due at once) and only not yet said so
	// here. Such a claim waits in reclaimed until the delivery under way ends; then it
	// is delivered only if it still holds (a delivery's outcome clears its claim, so in
	// the first case it no longer does). One worker never delivers an item twice at
	// once, and never leaves one claimed undelivered.
	delivering := map[int64]bool{}
	reclaimed := map[int64]store.OutboxItem{}
	inflight := 0
	perDest := map[string]int{}
	start := func(it store.OutboxItem) {
		dest := store.Destination(it.Group)
		inflight++
		perDest[dest]++
		delivering[it.ID] = true
		wg.Go(func() {
			if err := w.deliver(ctx, it); err != nil && ctx.Err() == nil {
				w.log.Error("outbox delivery", "outbox_id", it.ID, "err", err)
			}
			done <- fin{it.ID, dest}
		})
	}
	finished := func(f fin) {
		inflight--
		delete(delivering, f.id)
		if perDest[f.dest]--; perDest[f.dest] <= 0 {
			delete(perDest, f.dest)
		}
		it, ok := reclaimed[f.id]
		if !ok {
			return
		}
		delete(reclaimed, f.id)
		err := w.st.Renew(ctx, it.ID, w.owner, w.opts.Now().Add(w.opts.Lease))
		switch {
		case err == nil:
			start(it)
		case errors.Is(err, store.ErrLeaseLost):
			w.log.Warn("outbox claim had lapsed during delivery; claimed again, not delivered twice", "outbox_id", it.ID)
		case ctx.Err() == nil:
			// The claim stays; the item is delivered again after the lease.
			w.log.Error("outbox delivery", "outbox_id", it.ID, "err", fmt.Errorf("outbox: %w", err))
		}
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if free := w.opts.Workers - inflight; free > 0 {
			// A destination at its share of the pool waits: a slow one cannot take
			// every worker.
			busy := w.pausedDests()
			for d, n := range perDest {
				if n >= w.opts.PerDest {
					busy = append(busy, d)
				}
			}
			items, err := w.st.Claim(ctx, w.owner, w.opts.Now(), w.opts.Lease, free, busy...)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				w.log.Error("outbox delivery", "err", fmt.Errorf("outbox: %w", err))
			}
			for _, it := range items {
				if delivering[it.ID] {
					reclaimed[it.ID] = it
					continue
				}
				start(it)
			}
		}
		timer.Reset(w.opts.Poll)
		select {
		case <-ctx.Done():
			return nil
		case <-w.kick:
		case <-timer.C:
		case f := <-done:
			// A stream may have its next item due now: claim again.
			finished(f)
			for more := true; more; {
				select {
				case f := <-done:
					finished(f)
				default:
					more = false
				}
			}
		}
	}
}

// RunOnce claims up to Workers due items, delivers them concurrently and waits for
// them, returning how many items it handled. Tests drive the worker with it (and
// Options.Now) instead of Run.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	items, err := w.st.Claim(ctx, w.owner, w.opts.Now(), w.opts.Lease, w.opts.Workers, w.pausedDests()...)
	if err != nil {
		return 0, fmt.Errorf("outbox: %w", err)
	}
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() { errs[i] = w.deliver(ctx, it) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return len(items), nil
	}
	return len(items), errors.Join(errs...)
}

// deliver runs the handler of one claimed item, renewing the claim while it runs, and
// records the outcome.
func (w *Worker) deliver(ctx context.Context, it store.OutboxItem) error {
	log := w.log.With("outbox_id", it.ID, "kind", it.Kind, "attempt", it.Attempts)
	h, ok := w.handlers[it.Kind]
	if !ok {
		msg := fmt.Sprintf("no handler for kind %q (is the CRM or webhook that wrote it still configured?)", it.Kind)
		log.Error("outbox item parked", "err", msg)
		return w.st.Park(ctx, it.ID, w.owner, msg)
	}
	hctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		w.renew(hctx, cancel, it.ID, log)
	}()
	err, stack := call(hctx, h, it)
	cancel()
	<-renewed
	if stack != nil {
		log.Error("outbox handler panicked", "err", err, "stack", string(stack))
	}
	if ctx.Err() != nil {
		// The worker is stopping (or dying) mid-delivery: leave the claim, so that the
		// item is delivered again, by whoever claims it after the lease.
		return nil
	}
	if err == nil {
		if err := w.st.Complete(ctx, it.ID, w.owner); err != nil {
			return err
		}
		log.Debug("outbox item delivered")
		return nil
	}
	if !transient(err) {
		log.Error("outbox item parked", "err", err)
		return w.st.Park(ctx, it.ID, w.owner, err.Error())
	}
	if w.opts.MaxAttempts > 0 && it.Attempts >= w.opts.MaxAttempts {
		msg := fmt.Sprintf("gave up after %d attempts: %v", it.Attempts, err)
		log.Error("outbox item parked", "err", msg)
		return w.st.Park(ctx, it.ID, w.owner, msg)
	}
	now := w.opts.Now()
	if ra, ok := errors.AsType[*crm.RetryAfterError](err); ok && ra.After > 0 {
		w.pause(store.Destination(it.Group), now.Add(ra.After), log)
	}
	if age := now.Sub(it.Since); age >= w.opts.MaxAge {
		msg := fmt.Sprintf("gave up after %s of temporary errors (max age %s): %v", age.Round(time.Second), w.opts.MaxAge, err)
		log.Error("outbox item parked", "err", msg)
		return w.st.Park(ctx, it.ID, w.owner, msg)
	}
	next := now.Add(w.backoff(it.Attempts, err))
	log.Warn("outbox item retried", "err", err, "next_at", next)
	return w.st.Retry(ctx, it.ID, w.owner, next, err.Error())
}

// pause holds back every item of destination dest until until: the destination said
// when to come back (Dataverse's service protection answers 429 with Retry-After for
// every request of the application user), so its other streams wait too instead of
// spending attempts (and requests) on a certain refusal. Other destinations go on.
func (w *Worker) pause(dest string, until time.Time, log *slog.Logger) {
	if dest == "" {
		return // items without a group share no destination
	}
	w.pauseMu.Lock()
	defer w.pauseMu.Unlock()
	if until.After(w.paused[dest]) {
		w.paused[dest] = until
		log.Warn("outbox destination paused", "destination", dest, "until", until)
	}
}

// pausedDests returns the destinations paused now (forgetting pauses that ended).
func (w *Worker) pausedDests() []string {
	now := w.opts.Now()
	w.pauseMu.Lock()
	defer w.pauseMu.Unlock()
	var out []string
	for d, until := range w.paused {
		if now.Before(until) {
			out = append(out, d)
		} else {
			delete(w.paused, d)
		}
	}
	return out
}

// renew extends the claim on item id every Lease/3 until ctx ends; when the claim is
// lost (another worker took the item after a stall), it cancels the delivery.
func (w *Worker) renew(ctx context.Context, cancel context.CancelFunc, id int64, log *slog.Logger) {
	t := time.NewTicker(w.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := w.st.Renew(ctx, id, w.owner, w.opts.Now().Add(w.opts.Lease))
			if errors.Is(err, store.ErrLeaseLost) {
				log.Error("outbox claim lost during delivery; delivery cancelled", "err", err)
				cancel()
				return
			}
			if err != nil && ctx.Err() == nil {
				log.Warn("outbox claim not renewed", "err", err)
			}
		}
	}
}

// call runs h, turning a panic into a permanent error (and its stack).
func call(ctx context.Context, h Handler, it store.OutboxItem) (err error, stack []byte) {
	defer func() {
		if r := recover(); r != nil {
			err, stack = fmt.Errorf("%w: handler panicked: %v", ErrPermanent, r), debug.Stack()
		}
	}()
	return h(ctx, it), nil
}

// transient says whether err is worth retrying: the CRM is unavailable, the network
// failed, or the attempt timed out.
func transient(err error) bool {
	if errors.Is(err, ErrPermanent) {
		return false
	}
	if errors.Is(err, crm.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// backoff returns the delay before the next attempt, after attempts so far: what a
// RetryAfterError asks for, else exponential from MinBackoff, capped at MaxBackoff,
// with jitter (between half and all of it) so that many items do not retry in step.
func (w *Worker) backoff(attempts int, err error) time.Duration {
	if ra, ok := errors.AsType[*crm.RetryAfterError](err); ok && ra.After > 0 {
		return ra.After
	}
	d := w.opts.MinBackoff
	for i := 1; i < attempts && d < w.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.opts.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}
