package sessionmanager

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

func TestCSVCell(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"alice", "alice"},
		{"=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"},
		{"+1+1", "'+1+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tcmd", "'\tcmd"},
		{"\rcmd", "'\rcmd"},
		{"a=b", "a=b"},
		{"'quoted", "'quoted"},
		{" =x", " =x"},
	}
	for _, c := range cases {
		if got := CSVCell(c.in); got != c.want {
			t.Errorf("CSVCell(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzCSVCell checks that no escaped cell can start a formula, that safe
// text is unchanged, and that encoding/csv gives the escaped cell back
// byte for byte (commas, quotes, newlines included).
func FuzzCSVCell(f *testing.F) {
	for _, s := range []string{"", "x", "=1+1", "-", "@", "\t", "\r\n", "a,b", `"q"`, "line\nbreak"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := CSVCell(in)
		if out != "" && strings.ContainsRune("=+-@\t\r", rune(out[0])) {
			t.Fatalf("CSVCell(%q) = %q starts a formula", in, out)
		}
		if in == "" || !strings.ContainsRune("=+-@\t\r", rune(in[0])) {
			if out != in {
				t.Fatalf("safe text changed: %q -> %q", in, out)
			}
		} else if out != "'"+in {
			t.Fatalf("CSVCell(%q) = %q, want a leading quote", in, out)
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		if err := w.Write([]string{out, "end"}); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		rec, err := csv.NewReader(&buf).Read()
		if err != nil {
			t.Fatalf("read back %q: %v", buf.String(), err)
		}
		// encoding/csv turns \r\n inside a quoted field into \n on reading.
		want := strings.ReplaceAll(out, "\r\n", "\n")
		if len(rec) != 2 || rec[0] != want {
			// A lone \r is not preserved by encoding/csv either; only that.
			if !strings.Contains(out, "\r") {
				t.Fatalf("round trip of %q gave %q", out, rec)
			}
		}
	})
}
