package web

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// TestEveryEventTypeHasALabel reads the root package's Event* constants
// (event.go) and checks the dashboard names each: a new event type must not
// show up raw in the security feed.
func TestEveryEventTypeHasALabel(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../event.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "Event") || i >= len(vs.Values) {
				continue
			}
			lit, ok := vs.Values[i].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				continue
			}
			typ, _ := strconv.Unquote(lit.Value)
			n++
			if _, ok := eventLabels[typ]; !ok {
				t.Errorf("event type %s (%q) has no dashboard label", name.Name, typ)
			}
		}
		return true
	})
	if n < 10 {
		t.Fatalf("found only %d event types in event.go", n)
	}
}
