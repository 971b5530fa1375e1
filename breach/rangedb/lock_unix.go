//go:build unix

package rangedb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lock takes the directory's write lock, failing at once when another
// import holds it. The kernel drops the lock if the process dies.
func lock(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock breach directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock breach directory %s: another import is running", dir)
		}
		return nil, fmt.Errorf("lock breach directory: %w", err)
	}
	return func() { f.Close() }, nil
}
