//go:build !unix

package rangedb

// lock is a no-op where flock does not exist: run one import at a time.
func lock(string) (func(), error) { return func() {}, nil }
