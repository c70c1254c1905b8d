//go:build !unix

package metadata

// processGone reports whether no process has the id pid here; without a
// way to ask, a process is never known gone (its lease tells).
func processGone(int) bool { return false }

// pidNamespace is "": there are no PID namespaces here.
func pidNamespace() string { return "" }
