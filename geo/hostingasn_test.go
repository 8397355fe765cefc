package geo

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestDocsListKnownASNs keeps the ASN table of docs/GEO.md in step with the code.
func TestDocsListKnownASNs(t *testing.T) {
	doc, err := os.ReadFile("../docs/GEO.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range KnownASNs() {
		row := fmt.Sprintf("| %d | %s | %s |", k.ASN, k.Owner, k.Kind)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/GEO.md lacks %q", row)
		}
	}
}

func TestKnownASNsUnique(t *testing.T) {
	seen := map[uint32]bool{}
	for _, k := range KnownASNs() {
		if seen[k.ASN] || k.ASN == 0 || k.Owner == "" || (k.Kind != ASNHosting && k.Kind != ASNVPN) {
			t.Errorf("bad or duplicate entry %+v", k)
		}
		seen[k.ASN] = true
	}
}
