//go:build unix

package metadata

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// processGone reports whether no process has the id pid here: signal 0
// answers ESRCH. A process of another user (EPERM) is alive.
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// initPIDNamespace is the inode of Linux's initial PID namespace
// (PROC_PID_INIT_INO).
const initPIDNamespace = "4026531836"

// pidNamespace returns the inode of this process's PID namespace when it
// is not the initial one (a container's), "" otherwise or off Linux.
func pidNamespace() string {
	link, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	ns := strings.TrimSuffix(strings.TrimPrefix(link, "pid:["), "]")
	if ns == initPIDNamespace || ns == link {
		return ""
	}
	return ns
}
