package main

import (
	"context"
	"io"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

// licenseAdmin adapts the licence state to the admin API.
type licenseAdmin struct {
	s        *license.State
	announce func(context.Context)
}

func (l licenseAdmin) Info() any { return l.s.Info() }

func (l licenseAdmin) Set(ctx context.Context, key string) (any, error) {
	info, err := l.s.Set(ctx, key)
	if err == nil {
		// Other instances re-read the stored key now, not at their daily check.
		l.announce(ctx)
	}
	return info, err
}

// licenseCmd runs the vendor tools: license issue | show | keygen.
func licenseCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &configError{"license: expected issue, show or keygen"}
	}
	switch args[0] {
	case "issue":
		return license.IssueCommand(args[1:], stdout, stderr)
	case "show":
		return license.ShowCommand(args[1:], stdout)
	case "keygen":
		return license.KeygenCommand(args[1:], stdout, stderr)
	}
	return &configError{"license: unknown command " + args[0] + " (expected issue, show or keygen)"}
}
