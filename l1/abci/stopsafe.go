package abci

import (
	"sync"

	dbm "github.com/cometbft/cometbft-db"
	cmtcfg "github.com/cometbft/cometbft/config"
)

// stopSafeDB is a CometBFT store whose reads after Close find nothing instead of failing.
// CometBFT's consensus reactor runs a goroutine per peer (queryMaj23Routine) that the node's Stop
// does not wait for; one that wakes after Stop closed the block store reads it, gets "leveldb:
// closed" and panics, ending the process that was stopping cleanly (an upstream race, seen in
// Tendermint-based chains for years). Reads and Close exclude each other, so no read reaches a
// closed store.
type stopSafeDB struct {
	dbm.DB
	mu     sync.RWMutex
	closed bool
}

func stopSafeDBProvider(ctx *cmtcfg.DBContext) (dbm.DB, error) {
	db, err := cmtcfg.DefaultDBProvider(ctx)
	if err != nil {
		return nil, err
	}
	return &stopSafeDB{DB: db}, nil
}

func (d *stopSafeDB) Get(key []byte) ([]byte, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, nil
	}
	return d.DB.Get(key)
}

func (d *stopSafeDB) Has(key []byte) (bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return false, nil
	}
	return d.DB.Has(key)
}

func (d *stopSafeDB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	return d.DB.Close()
}
