// Package storefault is a fault-injection file system for tests — a fake, named as such. It is
// pebble's vfs/errorfs over a real file system (the disk by default), with faults switched on and
// off while a daemon runs: a full disk that refuses writes, a disk whose syncs fail, a datadir
// turned read-only. Reads always pass, so what reached the disk before the fault can be checked.
package storefault

import (
	"fmt"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/cockroachdb/pebble/vfs/errorfs"
)

// Fault is which operations fail while it is set.
type Fault int32

const (
	// None lets every operation through.
	None Fault = iota
	// Full fails every write-kind operation (create, write, sync, rename, remove, ...) with ENOSPC.
	Full
	// SyncFails fails file syncs only, with EIO: writes land in the page cache, never on disk.
	SyncFails
	// ReadOnly fails file creation, renames, links and removals with EACCES; writes and syncs on
	// files already open pass (like a datadir whose permissions changed under the daemon).
	ReadOnly
)

func (f Fault) String() string {
	switch f {
	case None:
		return "none"
	case Full:
		return "disk full"
	case SyncFails:
		return "sync fails"
	case ReadOnly:
		return "read-only datadir"
	}
	return fmt.Sprintf("fault(%d)", int32(f))
}

// ErrInjected is what every injected error matches with errors.Is, besides its errno.
var ErrInjected = errorfs.ErrInjected

// FS is a vfs.FS whose operations fail while a fault is set.
type FS struct {
	*errorfs.FS
	fault    atomic.Int32
	injected atomic.Int64
}

// New wraps base (nil: the real disk, vfs.Default).
func New(base vfs.FS) *FS {
	if base == nil {
		base = vfs.Default
	}
	f := &FS{}
	f.FS = errorfs.Wrap(base, errorfs.InjectorFunc(f.maybeError))
	return f
}

// Create creates name; the file's syncs fail while SyncFails or Full is set.
func (f *FS) Create(name string) (vfs.File, error) {
	file, err := f.FS.Create(name)
	return f.wrap(name, file, err)
}

// ReuseForWrite reuses oldname as newname; the file's syncs fail under a fault, as Create's.
func (f *FS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	file, err := f.FS.ReuseForWrite(oldname, newname)
	return f.wrap(newname, file, err)
}

// OpenReadWrite opens name; the file's syncs fail under a fault, as Create's.
func (f *FS) OpenReadWrite(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	file, err := f.FS.OpenReadWrite(name, opts...)
	return f.wrap(name, file, err)
}

// OpenDir opens a directory; its syncs (which make a rename durable) fail under a fault.
func (f *FS) OpenDir(name string) (vfs.File, error) {
	file, err := f.FS.OpenDir(name)
	return f.wrap(name, file, err)
}

func (f *FS) wrap(name string, file vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &syncFile{File: file, fs: f, name: name}, nil
}

// syncFile injects into SyncData and SyncTo, which errorfs passes through: pebble's WAL syncs
// with them.
type syncFile struct {
	vfs.File
	fs   *FS
	name string
}

func (s *syncFile) SyncData() error {
	if err := s.fs.maybeError(errorfs.OpFileSync, s.name); err != nil {
		return err
	}
	return s.File.SyncData()
}

func (s *syncFile) SyncTo(length int64) (bool, error) {
	if err := s.fs.maybeError(errorfs.OpFileSync, s.name); err != nil {
		return false, err
	}
	return s.File.SyncTo(length)
}

// Set switches fault on (None switches faults off).
func (f *FS) Set(fault Fault) { f.fault.Store(int32(fault)) }

// Injected is how many operations have failed so far.
func (f *FS) Injected() int64 { return f.injected.Load() }

func (f *FS) maybeError(op errorfs.Op, path string) error {
	var errno syscall.Errno
	switch Fault(f.fault.Load()) {
	case Full:
		if op.OpKind() == errorfs.OpKindWrite && op != errorfs.OpFileClose && op != errorfs.OpLock {
			errno = syscall.ENOSPC
		}
	case SyncFails:
		if op == errorfs.OpFileSync {
			errno = syscall.EIO
		}
	case ReadOnly:
		switch op {
		case errorfs.OpCreate, errorfs.OpLink, errorfs.OpRename, errorfs.OpRemove, errorfs.OpRemoveAll,
			errorfs.OpReuseForRewrite, errorfs.OpMkdirAll:
			errno = syscall.EACCES
		}
	}
	if errno == 0 {
		return nil
	}
	f.injected.Add(1)
	return &injected{op: op, path: path, errno: errno}
}

// injected is one injected failure: it names the operation and the file, and matches both
// ErrInjected and its errno (errors.Is(err, syscall.ENOSPC)).
type injected struct {
	op    errorfs.Op
	path  string
	errno syscall.Errno
}

func (e *injected) Error() string {
	return fmt.Sprintf("storefault: %s: %v (injected)", e.path, e.errno)
}

func (e *injected) Unwrap() []error { return []error{e.errno, ErrInjected} }

var _ error = (*injected)(nil)
