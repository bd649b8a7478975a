package ingest

import (
	"context"
	"time"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// committer is group commit for the inbox: requests queue up while a transaction is in
// flight and all go into the next one, so under load many deliveries share one durable
// commit, and at low load each commits at once (no timer to wait for). Every caller is
// answered only after the commit that holds its delivery.
type committer struct {
	db      *store.DB
	queue   chan *pending
	batch   int
	timeout time.Duration
}

type pending struct {
	d     store.Delivery
	isNew bool
	err   error
	done  chan struct{}
}

func newCommitter(db *store.DB, batch, workers int, timeout time.Duration) *committer {
	c := &committer{db: db, queue: make(chan *pending, batch*workers*4), batch: batch, timeout: timeout}
	for range workers {
		go c.loop()
	}
	return c
}

// submit stores d and reports whether it was new. It gives up when ctx ends; the delivery
// may still commit afterwards, which only makes Thinkific's retry a duplicate.
func (c *committer) submit(ctx context.Context, d store.Delivery) (bool, error) {
	p := &pending{d: d, done: make(chan struct{})}
	select {
	case c.queue <- p:
	case <-ctx.Done():
		return false, stride.Wrap(stride.EUNAVAILABLE, ctx.Err(), "inbox is busy")
	}
	select {
	case <-p.done:
		return p.isNew, p.err
	case <-ctx.Done():
		return false, stride.Wrap(stride.EUNAVAILABLE, ctx.Err(), "inbox did not commit in time")
	}
}

// loop runs for the life of the process: the queue is never closed, so a request in flight
// at shutdown is still answered (the HTTP server drains before the database closes).
func (c *committer) loop() {
	group := make([]*pending, 0, c.batch)
	ds := make([]store.Delivery, 0, c.batch)
	for first := range c.queue {
		group = append(group[:0], first)
	drain:
		for len(group) < c.batch {
			select {
			case p := <-c.queue:
				group = append(group, p)
			default:
				break drain
			}
		}
		ds = ds[:0]
		for _, p := range group {
			ds = append(ds, p.d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		isNew, err := c.db.InsertDeliveries(ctx, ds)
		if err != nil && len(group) > 1 && !store.Transient(err) {
			// Something in the group was refused: each delivery alone, so that one bad row
			// fails only its own request.
			for _, p := range group {
				var one []bool
				if one, p.err = c.db.InsertDeliveries(ctx, []store.Delivery{p.d}); p.err == nil {
					p.isNew = one[0]
				}
				close(p.done)
			}
			cancel()
			continue
		}
		cancel()
		for i, p := range group {
			if err != nil {
				p.err = err
			} else {
				p.isNew = isNew[i]
			}
			close(p.done)
		}
	}
}
