//go:build !unix

package alert

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// applyProcessLimits cannot cap a process here: refuse to evaluate rather
// than run conditions unbounded.
func applyProcessLimits(ConditionLimits) error {
	return errors.New("condition evaluator processes need a Unix system (setrlimit)")
}

func childProcAttr() *syscall.SysProcAttr { return nil }
func cpuCapped(*os.ProcessState) bool     { return false }
func maxRSS(*exec.Cmd) int64              { return 0 }
