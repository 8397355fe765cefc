package alert

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TemplatesKey is the settings-store key of the edited email templates.
const TemplatesKey = "alert.templates"

//go:embed templates/*.tmpl
var defaultTemplateFS embed.FS

// Template is one email: subject and text use text/template, HTML uses
// html/template (values are escaped).
type Template struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// TemplateSet holds a Template per alert kind: "rule" (admin alerts, also
// used for test alerts) and "user_new_signin".
type TemplateSet map[string]Template

// templateKinds are the kinds a TemplateSet may hold.
var templateKinds = []string{KindRule, KindUserNewSignIn}

// DefaultTemplates returns the embedded default templates.
func DefaultTemplates() TemplateSet {
	set := TemplateSet{}
	for _, kind := range templateKinds {
		read := func(part string) string {
			b, _ := defaultTemplateFS.ReadFile("templates/" + kind + "." + part + ".tmpl")
			return string(b)
		}
		set[kind] = Template{Subject: strings.TrimSpace(read("subject")), Text: read("text"), HTML: read("html")}
	}
	return set
}

// Templates keeps the editable email templates in the settings store.
type Templates struct {
	store sm.SettingsStore
}

// NewTemplates returns the templates service over store.
func NewTemplates(store sm.SettingsStore) *Templates { return &Templates{store: store} }

// Get returns the stored templates over the defaults (an empty part is
// the default).
func (t *Templates) Get(ctx context.Context) (TemplateSet, error) {
	set := DefaultTemplates()
	if t == nil || t.store == nil {
		return set, nil
	}
	raw, err := t.store.GetSetting(ctx, TemplatesKey)
	if sm.IsNotFound(err) {
		return set, nil
	}
	if err != nil {
		return nil, err
	}
	var stored TemplateSet
	if err := json.Unmarshal(raw, &stored); err != nil {
		return nil, fmt.Errorf("alert: templates document: %w", err)
	}
	for kind, tpl := range stored {
		def, ok := set[kind]
		if !ok {
			continue
		}
		if tpl.Subject != "" {
			def.Subject = tpl.Subject
		}
		if tpl.Text != "" {
			def.Text = tpl.Text
		}
		if tpl.HTML != "" {
			def.HTML = tpl.HTML
		}
		set[kind] = def
	}
	return set, nil
}

// Put validates and stores edited templates: each must parse and render a
// sample alert. Errors name the field, e.g. "rule.html".
func (t *Templates) Put(ctx context.Context, set TemplateSet) error {
	bad := map[string]string{}
	sample := sampleAlert()
	for kind, tpl := range set {
		if !isTemplateKind(kind) {
			bad[kind] = "unknown template kind; one of " + strings.Join(templateKinds, ", ")
			continue
		}
		def := DefaultTemplates()[kind]
		full := tpl
		if full.Subject == "" {
			full.Subject = def.Subject
		}
		if full.Text == "" {
			full.Text = def.Text
		}
		if full.HTML == "" {
			full.HTML = def.HTML
		}
		if _, err := renderParts(full, sample, sampleReportURL); err != nil {
			bad[kind+"."+err.part] = err.msg
		}
	}
	if len(bad) > 0 {
		return sm.InvalidFields(bad)
	}
	doc, err := json.Marshal(set)
	if err != nil {
		return err
	}
	return t.store.PutSetting(ctx, TemplatesKey, doc)
}

func isTemplateKind(k string) bool {
	for _, x := range templateKinds {
		if x == k {
			return true
		}
	}
	return false
}

// renderedEmail is one rendered message.
type renderedEmail struct {
	Subject, Text, HTML string
}

// templateError names the part of a template that failed.
type templateError struct{ part, msg string }

func (e *templateError) Error() string { return e.part + ": " + e.msg }

// render renders the alert with the template of its kind; reportURL is
// the "This wasn't me" link of an email to the user ("" for none).
func (t *Templates) render(ctx context.Context, a *Alert, reportURL string) (*renderedEmail, error) {
	set, err := t.Get(ctx)
	if err != nil {
		return nil, err
	}
	kind := a.Kind
	if kind != KindUserNewSignIn {
		kind = KindRule
	}
	out, terr := renderParts(set[kind], a, reportURL)
	if terr != nil {
		return nil, Permanent(terr)
	}
	return out, nil
}

// renderParts renders subject and text with text/template and HTML with
// html/template.
func renderParts(tpl Template, a *Alert, reportURL string) (*renderedEmail, *templateError) {
	data := newTemplateData(a)
	data.ReportURL = reportURL
	var out renderedEmail
	for _, p := range []struct {
		name, src string
		dst       *string
	}{{"subject", tpl.Subject, &out.Subject}, {"text", tpl.Text, &out.Text}} {
		tt, err := texttemplate.New(p.name).Option("missingkey=zero").Parse(p.src)
		if err != nil {
			return nil, &templateError{p.name, err.Error()}
		}
		var b bytes.Buffer
		if err := tt.Execute(&b, data); err != nil {
			return nil, &templateError{p.name, err.Error()}
		}
		*p.dst = b.String()
	}
	// A subject is one header line: no line breaks from user data.
	out.Subject = strings.Join(strings.Fields(out.Subject), " ")
	ht, err := htmltemplate.New("html").Parse(tpl.HTML)
	if err != nil {
		return nil, &templateError{"html", err.Error()}
	}
	var b bytes.Buffer
	if err := ht.Execute(&b, data); err != nil {
		return nil, &templateError{"html", err.Error()}
	}
	out.HTML = b.String()
	return &out, nil
}

// templateData is what templates see: the Alert's fields plus ready-made
// strings. ReportURL is the signed, single-use "This wasn't me" link of an
// email to the user about their sign-in ("" in admin alerts, or when
// SM_PUBLIC_URL is not set).
type templateData struct {
	*Alert
	Who, When, Place, Device, Network, Threats, PreviousPlace string
	ReportURL                                                 string
}

// sampleReportURL is the link template validation renders.
const sampleReportURL = "https://auth.example.com/api/auth/report?token=sample"

func newTemplateData(a *Alert) templateData {
	d := templateData{Alert: a, Place: placeOf(a.Location)}
	d.Who = a.User.Email
	if a.User.Username != "" && a.User.Username != a.User.Email {
		d.Who = strings.TrimSpace(a.User.Email + " (" + a.User.Username + ")")
	}
	d.Who = orDash(d.Who)
	d.When = a.OccurredAt.UTC().Format("2006-01-02 15:04:05 UTC")
	d.Device = orDash(strings.Trim(a.Session.Device.Browser+" / "+a.Session.Device.OS, " /"))
	d.Network = "-"
	if a.Location.ISP != "" || a.Location.ASN != 0 {
		d.Network = fmt.Sprintf("%s (AS%d)", a.Location.ISP, a.Location.ASN)
	}
	d.Threats = orDash(strings.Join(threatList(a.Threat), ", "))
	if a.Previous != nil && a.Previous.Location != nil {
		d.PreviousPlace = placeOf(*a.Previous.Location)
	}
	return d
}

// sampleAlert is what template validation and test alerts render.
func sampleAlert() *Alert {
	return &Alert{
		ID: "0123456789abcdef0123456789abcdef", Kind: KindTest, Type: sm.EventLoginSucceeded,
		OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Rule:       &AlertRule{ID: "rule_test", Name: "Test rule"}, Triggers: []string{TriggerNewCountry},
		Title: "Test alert", Summary: "This is a test alert from Magic Session Manager.", Severity: SeverityInfo,
		User:     AlertUser{ID: "user_1", Email: "jane@example.com", Username: "jane"},
		Session:  AlertSession{ID: "sess_1", IP: "203.0.113.7", AuthMethod: "password", Device: sm.Device{Type: "desktop", Browser: "Firefox", OS: "Linux"}},
		Location: sm.Location{CountryCode: "DE", CountryName: "Germany", Flag: "🇩🇪", City: "Berlin", ISP: "Example ISP", ASN: 64500},
		Score:    70, Reasons: []sm.RiskReason{{Code: sm.ReasonNewCountry, Weight: 30, Detail: "first sign-in from Germany"}},
	}
}
