package testkit

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time (user and system) this process has used so far:
// benchmarks report it beside the time, which a shared, loaded machine
// inflates more.
func CPUTime() time.Duration { return rusageCPU(syscall.RUSAGE_SELF) }

// ChildrenCPUTime is the CPU time of the commands this process ran and
// waited for: a benchmark of a command counts it too.
func ChildrenCPUTime() time.Duration { return rusageCPU(syscall.RUSAGE_CHILDREN) }

func rusageCPU(who int) time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
