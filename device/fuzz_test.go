package device

import (
	"testing"
	"unicode/utf8"
)

// FuzzParse: any input parses without panic into a known type, and every
// name is valid UTF-8 and short (they are stored and shown).
func FuzzParse(f *testing.F) {
	for _, tt := range realUAs {
		f.Add(tt.ua)
	}
	p := New()
	types := map[string]bool{TypeDesktop: true, TypeMobile: true, TypeTablet: true, TypeTV: true, TypeBot: true, TypeUnknown: true}
	f.Fuzz(func(t *testing.T, ua string) {
		d := p.Parse(ua)
		if !types[d.Type] {
			t.Fatalf("unknown type %q", d.Type)
		}
		for _, s := range []string{d.Browser, d.BrowserVersion, d.OS, d.OSVersion} {
			if !utf8.ValidString(s) || len(s) > 64 {
				t.Fatalf("bad field %q in %+v", s, d)
			}
		}
	})
}
