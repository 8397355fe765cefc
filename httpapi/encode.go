package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// maxBody caps every JSON request body.
const maxBody = 1 << 20

var jsonContentType = []string{"application/json; charset=utf-8"}

// encode writes v as JSON with status; headers are set before WriteHeader.
// The header values are shared slices (net/http only reads them; the full
// slice expression makes an append copy), not two allocations per answer.
func encode(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h["Content-Type"] = jsonContentType[:1:1]
	h["Cache-Control"] = noStore[:1:1]
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// validator is a request that can check itself, naming each bad field.
type validator interface {
	Valid() map[string]string
}

// decode reads a JSON body of at most 1 MiB into v and validates it. Every
// failure is an *sm.Error a client can act on.
func decode[T validator](w http.ResponseWriter, r *http.Request) (T, error) {
	return decodeBody[T](w, r, false)
}

// decodeOptional is decode for a body that may be left out (Strapi's
// logout): no body, or only white space, is the zero request, validated.
func decodeOptional[T validator](w http.ResponseWriter, r *http.Request) (T, error) {
	return decodeBody[T](w, r, true)
}

func decodeBody[T validator](w http.ResponseWriter, r *http.Request, optional bool) (T, error) {
	var v T
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return v, &sm.Error{Code: sm.EINVALID, Message: "Content-Type must be application/json", Fields: map[string]string{"Content-Type": "must be application/json"}}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return v, decodeError(err)
	}
	// The JSON decoder turns invalid UTF-8 and lone surrogates into U+FFFD
	// without a word: look first, and name the field.
	if bad := invalidUTF8Fields(raw); len(bad) > 0 {
		return v, &sm.Error{Code: sm.EINVALID, Message: "request body is not valid UTF-8", Reason: "invalid_utf8", Fields: bad}
	}
	if optional && len(bytes.TrimSpace(raw)) == 0 {
		if bad := v.Valid(); len(bad) > 0 {
			return v, sm.InvalidFields(bad)
		}
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&v); err != nil {
		return v, decodeError(err)
	}
	if dec.More() {
		return v, &sm.Error{Code: sm.EINVALID, Message: "request body must be a single JSON object"}
	}
	if bad := v.Valid(); len(bad) > 0 {
		return v, sm.InvalidFields(bad)
	}
	return v, nil
}

func decodeError(err error) error {
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &tooBig):
		return &sm.Error{Code: sm.EINVALID, Message: fmt.Sprintf("request body is larger than %d bytes", maxBody), Reason: "body_too_large"}
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return &sm.Error{Code: sm.EINVALID, Message: "invalid request body", Fields: map[string]string{field: "must be a " + typeName(typeErr.Type.Kind().String())}}
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return &sm.Error{Code: sm.EINVALID, Message: "request body is not valid JSON"}
	case errors.Is(err, io.EOF):
		return &sm.Error{Code: sm.EINVALID, Message: "request body is empty; a JSON object is required"}
	}
	return &sm.Error{Code: sm.EINVALID, Message: "request body is not a valid JSON object"}
}

func typeName(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "list"
	case "map", "struct":
		return "object"
	}
	return "number"
}

// invalidUTF8Fields names each top-level field of a JSON object whose
// value holds invalid UTF-8 bytes or an escaped lone surrogate (\ud800),
// which encoding/json would silently decode as U+FFFD; nil when none does.
func invalidUTF8Fields(raw []byte) map[string]string {
	if utf8.Valid(raw) && !bytes.Contains(bytes.ToLower(raw), []byte(`\ud`)) {
		return nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		if !utf8.Valid(raw) {
			return map[string]string{"body": "must be valid UTF-8"}
		}
		return nil // not an object: the decoder says what is wrong
	}
	bad := map[string]string{}
	for field, value := range top {
		if !utf8.Valid(value) || replacedOnDecode(value) {
			bad[field] = "must be valid UTF-8 (no invalid bytes or lone surrogates)"
		}
	}
	return bad
}

// replacedOnDecode reports whether decoding value yields more U+FFFD than
// it spells (literally or as \ufffd): the decoder replaced something.
func replacedOnDecode(value []byte) bool {
	var v any
	if json.Unmarshal(value, &v) != nil {
		return false
	}
	spelled := bytes.Count(value, []byte("\uFFFD")) + bytes.Count(bytes.ToLower(value), []byte(`\ufffd`))
	return countReplacement(v) > spelled
}

func countReplacement(v any) int {
	n := 0
	switch x := v.(type) {
	case string:
		n = strings.Count(x, "\uFFFD")
	case []any:
		for _, e := range x {
			n += countReplacement(e)
		}
	case map[string]any:
		for k, e := range x {
			n += strings.Count(k, "\uFFFD") + countReplacement(e)
		}
	}
	return n
}
