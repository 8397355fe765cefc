package httpapi

import "testing"

func TestInvalidUTF8Fields(t *testing.T) {
	for body, want := range map[string]string{
		`{"a":"plain","b":"ünïcödé 😀"}`:          "",
		`{"a":"\ud83d\ude00"}`:                   "",
		`{"a":"\ufffd kept as written","b":"�"}`: "",
		"{\"a\":\"ok\",\"name\":\"x\xffy\"}":     "name",
		`{"email":"a\ud800b"}`:                   "email",
		`{"password":"\udfff"}`:                  "password",
		`{"list":["ok","\ud800"]}`:               "list",
		"{\"nested\":{\"k\":\"\xed\xa0\x80\"}}":  "nested",
		`[1,2]`:                                  "",
	} {
		bad := invalidUTF8Fields([]byte(body))
		switch {
		case want == "" && len(bad) != 0:
			t.Errorf("%q: flagged %v", body, bad)
		case want != "" && (len(bad) != 1 || bad[want] == ""):
			t.Errorf("%q: got %v, want only %s", body, bad, want)
		}
	}
}
