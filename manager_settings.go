package sessionmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Settings returns the current settings (cached; refreshed on change).
func (m *Manager) Settings(ctx context.Context) (*Settings, error) {
	if s := m.settings.Load(); s != nil {
		return s, nil
	}
	return m.loadSettings(ctx)
}

func (m *Manager) loadSettings(ctx context.Context) (*Settings, error) {
	raw, err := m.store.GetSetting(ctx, SettingsKey)
	s := DefaultSettings()
	switch {
	case IsNotFound(err):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(raw, s); err != nil {
			return nil, fmt.Errorf("stored settings are not valid JSON: %w", err)
		}
	}
	m.settings.Store(s)
	if m.cfg.OnSettings != nil {
		m.cfg.OnSettings(s)
	}
	return s, nil
}

// UpdateSettings applies a JSON merge patch (RFC 7386) to the settings,
// validates the whole result and stores it. An invalid document is refused
// whole, naming each bad field; nothing is stored. The change is audited
// naming the actor ctx carries.
func (m *Manager) UpdateSettings(ctx context.Context, patch []byte) (*Settings, error) {
	m.settingsMu.Lock()
	defer m.settingsMu.Unlock()
	cur, err := m.loadSettings(ctx)
	if err != nil {
		return nil, err
	}
	var p any
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, &Error{Code: EINVALID, Message: "settings must be a JSON object", Fields: map[string]string{"body": "not valid JSON"}}
	}
	po, ok := p.(map[string]any)
	if !ok {
		return nil, &Error{Code: EINVALID, Message: "settings must be a JSON object", Fields: map[string]string{"body": "must be a JSON object"}}
	}
	curJSON, _ := json.Marshal(cur)
	var doc map[string]any
	_ = json.Unmarshal(curJSON, &doc)
	merged := MergePatch(doc, po)
	mergedJSON, _ := json.Marshal(merged)

	if field := unknownSetting(merged, reflect.TypeFor[Settings](), ""); field != "" {
		return nil, &Error{Code: EINVALID, Message: "invalid settings", Fields: map[string]string{field: "unknown setting"}}
	}
	if field, reason := badDuration(merged); field != "" {
		return nil, &Error{Code: EINVALID, Message: "invalid settings", Fields: map[string]string{field: reason}}
	}
	next := DefaultSettings()
	dec := json.NewDecoder(bytes.NewReader(mergedJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(next); err != nil {
		return nil, &Error{Code: EINVALID, Message: "invalid settings", Fields: map[string]string{jsonErrorField(err): jsonErrorReason(err)}}
	}
	bad := m.cfg.ValidateSettings(next)
	for k, v := range m.checkTimeouts(next) {
		if bad == nil {
			bad = map[string]string{}
		}
		bad[k] = v
	}
	if len(bad) > 0 {
		return nil, InvalidFields(bad)
	}
	if err := m.checkLockedSettings(cur, next); err != nil {
		return nil, err
	}
	out, _ := json.Marshal(next)
	if err := m.store.PutSetting(ctx, SettingsKey, out); err != nil {
		return nil, err
	}
	m.settings.Store(next)
	if m.cfg.OnSettings != nil {
		m.cfg.OnSettings(next)
	}
	actor := ActorFrom(ctx)
	m.audit(ctx, &Event{Type: EventSettingsChanged, ActorType: actor.Type, ActorID: actor.ID, IP: actor.IP, Data: actorData(actor, "patch", json.RawMessage(patch))}, nil)
	m.publish(ctx, Message{Kind: MsgSettingsChanged})
	return next, nil
}

// MergePatch applies an RFC 7386 JSON merge patch to doc.
func MergePatch(doc map[string]any, patch map[string]any) map[string]any {
	if doc == nil {
		doc = map[string]any{}
	}
	for k, v := range patch {
		if v == nil {
			delete(doc, k)
			continue
		}
		if pv, ok := v.(map[string]any); ok {
			dv, _ := doc[k].(map[string]any)
			doc[k] = MergePatch(dv, pv)
			continue
		}
		doc[k] = v
	}
	return doc
}

// jsonErrorField names the field of a decoding error.
func jsonErrorField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field
	}
	return "body"
}

// unknownSetting returns the JSON path of the first key of doc that no
// field of t (a struct) takes, matched as encoding/json matches (case
// folded), looking into nested objects; "" when every key is known. It
// names the field itself, where the decoder's error only says so in words.
func unknownSetting(doc map[string]any, t reflect.Type, prefix string) string {
	for key, v := range doc {
		f, ok := jsonField(t, key)
		if !ok {
			return prefix + key
		}
		if sub, isObject := v.(map[string]any); isObject && f.Type.Kind() == reflect.Struct {
			if bad := unknownSetting(sub, f.Type, prefix+key+"."); bad != "" {
				return bad
			}
		}
	}
	return ""
}

// badDuration names the first duration setting of doc that does not read
// as one, with why: the decoder reports such an error without its field.
func badDuration(doc map[string]any) (field, reason string) {
	t := reflect.TypeFor[Settings]()
	durType := reflect.TypeFor[Duration]()
	for key, v := range doc {
		f, ok := jsonField(t, key)
		if !ok || v == nil || (f.Type != durType && f.Type != reflect.PointerTo(durType)) {
			continue
		}
		raw, _ := json.Marshal(v)
		var d Duration
		if err := json.Unmarshal(raw, &d); err != nil {
			return key, jsonErrorReason(err)
		}
	}
	return "", ""
}

// jsonField finds the field of struct t that encoding/json decodes key into.
func jsonField(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.EqualFold(name, key) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func jsonErrorReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "must be a " + jsonTypeName(te.Type.Kind().String())
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "invalid value"
}

func jsonTypeName(kind string) string {
	switch kind {
	case "int", "int64", "float64", "int32", "uint32":
		return "number"
	case "slice":
		return "list"
	case "map", "struct":
		return "object"
	case "bool":
		return "boolean"
	}
	return kind
}

// jsonObject builds a small JSON object from key/value pairs.
func jsonObject(kv ...any) json.RawMessage {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return b
}

// AnnounceSettingsChange tells every instance that a settings document
// changed (e.g. alert rules) so they reload it.
func (m *Manager) AnnounceSettingsChange(ctx context.Context) {
	m.publish(ctx, Message{Kind: MsgSettingsChanged})
}
