//go:build !unix

package alert

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// applyProcessLimits cannot cap a process here: refuse to evaluate rather
// than run conditions unbounded.
func applyProcessLimits(ConditionLimits) error {
	return errors.New("condition evaluator processes need a Unix system (setrlimit)")
}

func childProcAttr() *syscall.SysProcAttr            { return nil }
func cpuCapped(*os.ProcessState, time.Duration) bool { return false }
func processCPU(int) (time.Duration, bool)           { return 0, false }
func maxRSS(*exec.Cmd) int64                         { return 0 }
