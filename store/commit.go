package store

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// committer groups concurrent writes into one transaction without waiting
// for a timer: the first caller to find no commit running becomes the
// leader and commits everything queued so far; calls that arrive while it
// commits queue for the next round. A lone write commits at once, a burst
// shares one fsync. (bbolt's Batch instead waits MaxBatchDelay for a batch
// to fill, which every write pays at moderate rates.)
type committer struct {
	mu      sync.Mutex
	queue   []*pending
	running bool
}

type pending struct {
	fn   func(tx *bolt.Tx) error
	err  error
	done chan struct{}
}

// run applies fn in a shared transaction and returns its own outcome. fn
// may run twice: when the shared transaction fails, each queued function is
// run again alone, so one failing write does not fail the others.
func (c *committer) run(db *bolt.DB, fn func(tx *bolt.Tx) error) error {
	p := &pending{fn: fn, done: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, p)
	if c.running {
		c.mu.Unlock()
		<-p.done
		return p.err
	}
	c.running = true
	c.mu.Unlock()
	c.lead(db)
	<-p.done
	return p.err
}

// lead commits rounds until the queue is empty.
func (c *committer) lead(db *bolt.DB) {
	for {
		c.mu.Lock()
		round := c.queue
		c.queue = nil
		if len(round) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		commitRound(db, round)
	}
}

func commitRound(db *bolt.DB, round []*pending) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, p := range round {
			if err := p.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && len(round) > 1 {
		for _, p := range round {
			p.err = db.Update(p.fn)
			close(p.done)
		}
		return
	}
	for _, p := range round {
		p.err = err
		close(p.done)
	}
}
