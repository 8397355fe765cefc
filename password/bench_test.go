package password

import "testing"

func BenchmarkHash(b *testing.B) {
	h := Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := Default()
	enc, _ := h.Hash("correct horse battery staple")
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := h.Verify(enc, "correct horse battery staple"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
