//go:build unix && !linux

package alert

import "time"

// processCPU cannot read another process's CPU time here: the pool
// recycles by count instead (see ProcessConfig.MaxEvaluations).
func processCPU(int) (time.Duration, bool) { return 0, false }
