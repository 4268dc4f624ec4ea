package testkit

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time (user and system) this process has used so far:
// benchmarks report it beside the time, which a shared, loaded machine
// inflates more.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
