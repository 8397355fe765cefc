package main

import (
	"io"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

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
