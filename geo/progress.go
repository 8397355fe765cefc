package geo

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progressReader counts bytes and, when out is a terminal, redraws one
// "\r" status line at most every 100ms. Logs and pipes get nothing.
type progressReader struct {
	r      io.Reader
	out    io.Writer
	name   string
	total  int64
	read   int64
	lastAt time.Time
}

func newProgressReader(r io.Reader, total int64, out io.Writer, name string) *progressReader {
	if !isTerminal(out) {
		out = nil
	}
	return &progressReader{r: r, out: out, name: name, total: total}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.read += int64(n)
	if p.out != nil && time.Since(p.lastAt) >= 100*time.Millisecond {
		p.lastAt = time.Now()
		p.draw()
	}
	return n, err
}

func (p *progressReader) draw() {
	const mb = 1 << 20
	if p.total > 0 {
		pct := float64(p.read) * 100 / float64(p.total)
		const width = 30
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = ' '
			if float64(i) < pct*width/100 {
				bar[i] = '='
			}
		}
		fmt.Fprintf(p.out, "\r%s [%s] %5.1f%% %6.1f/%.1f MB", p.name, bar, pct, float64(p.read)/mb, float64(p.total)/mb)
	} else {
		fmt.Fprintf(p.out, "\r%s %6.1f MB", p.name, float64(p.read)/mb)
	}
}

// done draws the final state and ends the line.
func (p *progressReader) done() {
	if p.out == nil {
		return
	}
	p.draw()
	fmt.Fprintln(p.out)
}
