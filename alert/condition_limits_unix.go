//go:build unix

package alert

import (
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// applyProcessLimits caps this process (an evaluator) with setrlimit so a
// condition that allocates or computes without end is ended by the kernel
// even if the parent were slow to kill it: RLIMIT_DATA (the writable
// memory a Go heap lives in) and RLIMIT_AS at what the process uses now
// plus the allowance, RLIMIT_CPU, and no core dump. The Go runtime
// reserves about 1.5 GB of address space up front, so the address-space
// cap alone would bound nothing useful; the data cap is the tight one.
func applyProcessLimits(l ConditionLimits) error {
	runtime.GOMAXPROCS(1)
	data, size := procStatusKB("VmData"), procStatusKB("VmSize")
	// Collect early so honest conditions stay far below the hard cap.
	debug.SetMemoryLimit(int64(data)<<10 + l.Memory/2)
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
		return err
	}
	cpu := max(uint64(l.CPU.Seconds()), 1)
	// The kernel sends SIGXCPU at the soft cap, which the Go runtime
	// ignores unless asked for; without this the process ran on to the
	// hard cap's SIGKILL, which reads like any other death.
	xcpu := make(chan os.Signal, 1)
	signal.Notify(xcpu, syscall.SIGXCPU)
	go func() {
		<-xcpu
		_, _ = os.Stderr.WriteString(cpuCapMessage + "\n")
		os.Exit(cpuCapExitCode)
	}()
	if err := syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: cpu, Max: cpu + 5}); err != nil {
		return err
	}
	dataCap := data<<10 + uint64(l.Memory)
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: dataCap, Max: dataCap}); err != nil {
		return err
	}
	asCap := size<<10 + 2*uint64(l.Memory)
	return syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: asCap, Max: asCap})
}

// procStatusKB reads one "Vm...: N kB" line of /proc/self/status (0 where
// there is no /proc: the cap is then the allowance alone).
func procStatusKB(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// childProcAttr makes an evaluator die with the server (Linux) and keeps
// it in its own process group.
func childProcAttr() *syscall.SysProcAttr { return sysProcAttr() }

// cpuCapped reports whether a process ended at its CPU cap: it exited on
// SIGXCPU (the soft cap), or the kernel ended it with SIGXCPU or, at the
// hard cap, SIGKILL after using at least the cap.
func cpuCapped(s *os.ProcessState, limit time.Duration) bool {
	if s.ExitCode() == cpuCapExitCode {
		return true
	}
	ws, ok := s.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return false
	}
	return ws.Signal() == syscall.SIGXCPU || ws.Signal() == syscall.SIGKILL && s.UserTime()+s.SystemTime() >= limit
}

// maxRSS is the peak resident memory of an ended process, in bytes.
func maxRSS(cmd *exec.Cmd) int64 {
	if cmd.ProcessState == nil {
		return 0
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10
	}
	return 0
}
