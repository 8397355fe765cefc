package device

import "testing"

func BenchmarkParse(b *testing.B) {
	p := New()
	ua := realUAs[0].ua
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(ua)
	}
}

func BenchmarkParseMixed(b *testing.B) {
	p := New()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Parse(realUAs[i%len(realUAs)].ua)
		i++
	}
}
