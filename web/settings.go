package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

type settingsData struct {
	Settings  *sm.Settings
	Countries []sm.CountryInfo
	Allowed   map[string]bool
	Blocked   map[string]bool
	// Errors holds field errors of the form that was just refused, keyed
	// by the settings document's field names.
	Errors  map[string]string
	Message string
	// Form names the refused form: geofence, policy, or rule:<id>.
	Form          string
	AlertsEnabled bool
	Rules         []ruleView
	NewRule       ruleView
	Policies      []policyRow
	Actions       []sm.Action
	// Protection is session protection's policy (one row per signal) and
	// SessionActions the actions it offers.
	Protection     []policyRow
	SessionActions []sm.Action
	// Locks are the sections the licence locks (geofence, policy, threat,
	// blocking, alerts, conditions): a badge names the edition that
	// unlocks each, and their inputs are disabled.
	Locks map[string]*lockView
	// Done is the action just completed (?done=), for a confirmation shown
	// beside the form that did it rather than at the top of a long page.
	Done string
	// Timeouts are the session timeouts in force, one row each.
	Timeouts []timeoutRow
	// RecentEvents are the events the rules can be tried on.
	RecentEvents []eventOption
	// Guide is the rule builder's vocabulary and the condition's event object.
	Guide sm.AlertRuleGuide
}

// timeoutRow is one session timeout on the settings page: Input is the
// stored value ("" when the environment's is in force).
type timeoutRow struct {
	Key, Label, Help string
	T                sm.SessionTimeout
	Input            string
}

// timeoutKeys are the settings fields of the session timeouts, in page order.
var timeoutKeys = []string{"inactivityTimeout", "idleTimeout", "maxSessionAge", "retention"}

func timeoutRows(t sm.SessionTimeouts) []timeoutRow {
	rows := []timeoutRow{
		{Key: "inactivityTimeout", Label: "Inactivity timeout", Help: "A session unused this long is shown as inactive (it stays valid).", T: t.InactivityTimeout},
		{Key: "idleTimeout", Label: "Idle end", Help: "A session unused this long is ended (reason idle); 0s turns it off.", T: t.IdleTimeout},
		{Key: "maxSessionAge", Label: "Absolute lifetime", Help: "A session ends this long after it started, however active; applies to sessions started after a change.", T: t.MaxSessionAge},
		{Key: "retention", Label: "Retention", Help: "An ended session is kept this long, then deleted by the nightly purge.", T: t.Retention},
	}
	for i := range rows {
		if rows[i].T.Source == sm.SourceSettings {
			rows[i].Input = rows[i].T.Value.String()
		}
	}
	return rows
}

// lockView is a section the licence locks.
type lockView struct {
	Feature, Title, Edition string
}

// protectionTexts are the label and help of each session action's row
// (sm.SessionActionKeys gives the rows and their order).
var protectionTexts = map[string][2]string{
	"deviceChangeOnRefresh": {"Device change on a refresh", "A refresh from another browser or OS than the session's: the strongest sign of a copied refresh token"},
	"deviceChange":          {"Device change on a request", "A request from another browser or OS (an access token may pass through other software)"},
	"impossibleTravel":      {"Impossible travel", "The session moved faster than the impossible-travel speed (never for a VPN or proxy)"},
	"countryChange":         {"Country change", "The session is used from another country"},
	"ipChange":              {"Network change", "Another country, or onto a VPN, proxy, Tor or hosting network (that network's policy above applies too)"},
	"refreshAnomaly":        {"Refresh anomaly", "More refreshes of one session in a minute than the limit below"},
}

// policyRow is one condition of the policy table.
type policyRow struct {
	Key, Label, Help string
	Action           sm.Action
	// Lock is set when the licence ignores this row's action.
	Lock *lockView
}

// Refused reports whether the licence refuses a change of the row to a:
// a locked row keeps its action or turns it down (terminate to alert, or
// to allow: the store accepts that on any edition), never up.
func (p policyRow) Refused(a sm.Action) bool {
	return p.Lock != nil && a != p.Action && a.Strength() >= p.Action.Strength()
}

// lockSections are the dashboard sections and the feature each needs.
var lockSections = map[string]string{
	"geofence": sm.FeatureGeofence, "policy": sm.FeatureRisk, "threat": sm.FeatureThreat,
	"blocking": sm.FeatureBlocking, "alerts": sm.FeatureAlerts, "conditions": sm.FeatureCondition,
	"challenge": sm.FeatureChallenge, "protection": sm.FeatureProtect,
}

// locks asks the Manager's gate which sections the licence locks.
func (s *server) locks() map[string]*lockView {
	out := map[string]*lockView{}
	for section, feature := range lockSections {
		if edition, locked := s.d.Core.Settings.FeatureLock(feature); locked {
			v := &lockView{Feature: feature, Title: sm.FeatureTitle(feature), Edition: "a higher"}
			if edition != "" {
				v.Edition = strings.ToUpper(edition[:1]) + edition[1:]
			}
			out[section] = v
		}
	}
	return out
}

// ruleView is one alert rule in its editor.
type ruleView struct {
	ID        string
	Name      string
	Enabled   bool
	JSON      string // the rule without its condition
	Condition string
	// DisabledReason says why the server switched the rule off.
	DisabledReason string
	Errors         map[string]string
	// Flash confirms the last action on this rule, shown in its card.
	Flash string
	// Trial is the outcome of trying the rule on a recorded event.
	Trial *sm.RuleTrial
	// TrialSeq is the event last tried (selected in the list).
	TrialSeq int64
	// The form builder's fields: the triggers ticked, the low-score
	// bound, and the channels plus one blank to add.
	Triggers      map[string]bool
	LowScoreBelow string
	Channels      []channelView
}

// channelView is one channel in the rule builder. A secret is never put
// back in a page: HasSecret only says one is stored.
type channelView struct {
	Index         int
	Type, To, URL string
	HasSecret     bool
}

// builderView fills the builder's fields of v from rule, adding a blank
// channel to add one.
func builderView(v *ruleView, rule sm.AlertRule) {
	v.Name, v.Enabled = rule.Name, rule.Enabled
	v.Triggers = map[string]bool{}
	for _, t := range rule.Triggers {
		v.Triggers[t] = true
	}
	if rule.LowScoreBelow != nil {
		v.LowScoreBelow = strconv.Itoa(*rule.LowScoreBelow)
	}
	v.Channels = v.Channels[:0]
	for i, c := range rule.Channels {
		v.Channels = append(v.Channels, channelView{Index: i, Type: c.Type, To: strings.Join(c.To, ", "), URL: c.URL, HasSecret: c.Secret != ""})
	}
	v.Channels = append(v.Channels, channelView{Index: len(rule.Channels)})
}

// maxBuilderChannels caps the channels one builder form posts.
const maxBuilderChannels = 20

// ruleFromBuilder reads a rule from the builder's fields. formIndex maps
// the index of each channel in the rule to its index in the form (a
// channel whose type is left empty is dropped); bad names fields that do
// not read.
func ruleFromBuilder(r *http.Request) (rule sm.AlertRule, formIndex []int, bad map[string]string) {
	rule = sm.AlertRule{Name: strings.TrimSpace(r.PostFormValue("name")), Enabled: r.PostFormValue("enabled") == "on", Triggers: []string{}, Channels: []sm.AlertChannel{}}
	for _, t := range r.PostForm["trigger"] {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(rule.Triggers, t) {
			rule.Triggers = append(rule.Triggers, t)
		}
	}
	bad = map[string]string{}
	if v := strings.TrimSpace(r.PostFormValue("lowScoreBelow")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			bad["lowScoreBelow"] = "must be a whole number from 1 to 100"
		} else {
			rule.LowScoreBelow = &n
		}
	}
	for i := range maxBuilderChannels {
		p := "channels." + strconv.Itoa(i) + "."
		if _, posted := r.PostForm[p+"type"]; !posted {
			break
		}
		typ := strings.TrimSpace(r.PostFormValue(p + "type"))
		if typ == "" {
			continue
		}
		c := sm.AlertChannel{Type: typ, URL: strings.TrimSpace(r.PostFormValue(p + "url")), Secret: r.PostFormValue(p + "secret")}
		c.To = strings.FieldsFunc(r.PostFormValue(p+"to"), func(c rune) bool { return c == ',' || c == ';' || c == '\n' || c == '\r' || c == ' ' })
		rule.Channels = append(rule.Channels, c)
		formIndex = append(formIndex, i)
	}
	return rule, formIndex, bad
}

// formFields renames the errors of channels[k] to the form's channel index.
func formFields(errs map[string]string, formIndex []int) map[string]string {
	out := make(map[string]string, len(errs))
	for k, v := range errs {
		for ruleIdx, formIdx := range formIndex {
			if rest, ok := strings.CutPrefix(k, "channels["+strconv.Itoa(ruleIdx)+"]"); ok {
				k = "channels[" + strconv.Itoa(formIdx) + "]" + rest
				break
			}
		}
		out[k] = v
	}
	return out
}

// eventOption is a recorded event a rule can be tried on.
type eventOption struct {
	Seq   int64
	Label string
}

// FieldError returns the errors of field and of its elements or members
// ("allowedCountries", "allowedCountries[2]", "actions.vpn").
func (d settingsData) FieldError(field string) string {
	return fieldError(d.Errors, field)
}

// FieldError returns the rule's errors for field.
func (v ruleView) FieldError(field string) string { return fieldError(v.Errors, field) }

func fieldError(errs map[string]string, field string) string {
	var out []string
	for k, v := range errs {
		if k == field || strings.HasPrefix(k, field+".") || strings.HasPrefix(k, field+"[") {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

func (s *server) settingsData(r *http.Request) (settingsData, error) {
	st, err := s.d.Core.Settings.Settings(r.Context())
	if err != nil {
		return settingsData{}, err
	}
	t, err := s.d.Core.Settings.SessionTimeouts(r.Context())
	if err != nil {
		return settingsData{}, err
	}
	d := settingsData{Settings: st, Countries: sm.Countries(), Allowed: setOf(st.AllowedCountries), Blocked: setOf(st.BlockedCountries),
		AlertsEnabled: s.d.Alerts != nil, Actions: []sm.Action{sm.ActionAllow, sm.ActionAlert, sm.ActionChallenge, sm.ActionBlock}, Locks: s.locks(),
		Done: r.URL.Query().Get("done"), Timeouts: timeoutRows(t)}
	a := st.Actions
	l := d.Locks
	first := func(vs ...*lockView) *lockView {
		for _, v := range vs {
			if v != nil {
				return v
			}
		}
		return nil
	}
	threat := first(l["threat"], l["policy"])
	d.Policies = []policyRow{
		{"geofence", "Outside the geo-fence", "Login from a blocked country or outside the allowed list", a.Geofence, first(l["geofence"], l["policy"])},
		{"tor", "Tor", "Login through a Tor exit node", a.Tor, threat},
		{"vpn", "VPN", "Address of a known VPN provider", a.VPN, threat},
		{"proxy", "Proxy", "Open or anonymous proxy", a.Proxy, threat},
		{"datacenter", "Datacenter", "Hosting or cloud address", a.Datacenter, threat},
		{"threat", "Known threat", "Address on a threat list", a.Threat, threat},
		{"lowScore", "Low score", "Security score below the threshold", a.LowScore, l["policy"]},
		{"newCountry", "New country", "First sign-in of the user from this country", a.NewCountry, first(l["policy"], l["geofence"])},
		{"newDevice", "New device", "First sign-in of the user with this browser and OS (a trusted device is never new)", a.NewDevice, l["policy"]},
	}
	sa, pl := st.SessionActions, l["protection"]
	d.SessionActions = []sm.Action{sm.ActionAllow, sm.ActionAlert, sm.ActionChallenge, sm.ActionTerminate}
	for _, k := range sm.SessionActionKeys() {
		t := protectionTexts[k]
		d.Protection = append(d.Protection, policyRow{k, t[0], t[1], *sa.ByKey(k), pl})
	}
	d.NewRule = ruleView{JSON: "{\n  \"name\": \"\",\n  \"enabled\": true,\n  \"triggers\": [\"new_country\"],\n  \"channels\": [{\"type\": \"webhook\", \"url\": \"https://\"}]\n}"}
	builderView(&d.NewRule, sm.AlertRule{Enabled: true, Triggers: []string{"new_country"}})
	d.Guide = s.d.Core.RuleTrials.AlertRuleGuide()
	if s.d.Alerts != nil {
		rules, err := s.d.Alerts.List(r.Context())
		if err != nil {
			return d, err
		}
		flashRule := r.URL.Query().Get("rule")
		for _, rule := range rules {
			v := newRuleView(rule)
			if rule.ID == flashRule {
				v.Flash = flashMessages[r.URL.Query().Get("done")]
			}
			d.Rules = append(d.Rules, v)
		}
		if len(rules) > 0 {
			if d.RecentEvents, err = s.recentEvents(r.Context()); err != nil {
				return d, err
			}
		}
	}
	return d, nil
}

// recentEvents lists the newest events rules run on, named by the user's
// email rather than an id.
func (s *server) recentEvents(ctx context.Context) ([]eventOption, error) {
	events, err := s.d.Core.RuleTrials.RecentAlertEvents(ctx, 20)
	if err != nil {
		return nil, err
	}
	emails := map[string]string{}
	out := make([]eventOption, 0, len(events))
	for _, e := range events {
		who := e.UserID
		if e.UserID != "" {
			if _, seen := emails[e.UserID]; !seen {
				emails[e.UserID] = e.UserID
				if u, err := s.d.Core.Users.User(ctx, e.UserID); err == nil && u.Email != "" {
					emails[e.UserID] = u.Email
				}
			}
			who = emails[e.UserID]
		}
		label := fmt.Sprintf("#%d %s, %s UTC", e.Seq, eventLabel(e.Type), e.At.UTC().Format("2006-01-02 15:04"))
		if who != "" {
			label += ", " + who
		}
		if e.Country != "" {
			label += ", " + e.Country
		}
		out = append(out, eventOption{Seq: e.Seq, Label: label})
	}
	return out, nil
}

func setOf(codes []string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}

// newRuleView splits a rule into its JSON (without the condition and the
// fields the server sets) and its condition, for two editors.
func newRuleView(r sm.AlertRule) ruleView {
	doc := ruleDoc{Name: r.Name, Enabled: r.Enabled, Triggers: r.Triggers, LowScoreBelow: r.LowScoreBelow, Channels: r.Channels}
	if doc.Triggers == nil {
		doc.Triggers = []string{}
	}
	if doc.Channels == nil {
		doc.Channels = []sm.AlertChannel{}
	}
	raw, _ := json.MarshalIndent(doc, "", "  ")
	v := ruleView{ID: r.ID, JSON: string(raw), Condition: r.Condition, DisabledReason: r.DisabledReason}
	builderView(&v, r)
	return v
}

// ruleDoc is what the rule editor shows, in the order a person reads a rule.
type ruleDoc struct {
	Name          string            `json:"name"`
	Enabled       bool              `json:"enabled"`
	Triggers      []string          `json:"triggers"`
	LowScoreBelow *int              `json:"lowScoreBelow,omitempty"`
	Channels      []sm.AlertChannel `json:"channels"`
}

func (s *server) handleSettings(w http.ResponseWriter, r *http.Request) {
	d, err := s.settingsData(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "settings", "Settings", "settings", d)
}

// refused re-renders the settings page with the form's errors: 400 for
// invalid input, 403 for what the licence locks (feature_locked).
func (s *server) refused(w http.ResponseWriter, r *http.Request, form string, err error, edit func(*settingsData)) {
	var e *sm.Error
	status := http.StatusBadRequest
	switch {
	case errors.As(err, &e) && e.Code == sm.EINVALID:
	case errors.As(err, &e) && e.Reason == sm.ReasonFeatureLocked:
		status = http.StatusForbidden
	default:
		s.serverError(w, r, err)
		return
	}
	s.settingsPage(w, r, status, func(d *settingsData) {
		d.Form, d.Errors, d.Message = form, e.Fields, e.Message
		if len(d.Errors) == 0 {
			d.Errors = map[string]string{"body": e.Message}
		}
		if edit != nil {
			edit(d)
		}
	})
}

// settingsPage renders the settings page as edit changes it.
func (s *server) settingsPage(w http.ResponseWriter, r *http.Request, status int, edit func(*settingsData)) {
	d, err := s.settingsData(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	edit(&d)
	s.render(w, r, status, "settings", "Settings", "settings", d)
}

// ruleErrors puts the refused form's errors on rule id's card.
func ruleErrors(id string) func(*settingsData) {
	return func(d *settingsData) {
		for i := range d.Rules {
			if d.Rules[i].ID == id {
				d.Rules[i].Errors = d.Errors
			}
		}
	}
}

func (s *server) handleGeofence(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	allowed, blocked := cleanCodes(r.PostForm["allowed"]), cleanCodes(r.PostForm["blocked"])
	patch, _ := json.Marshal(map[string]any{"allowedCountries": allowed, "blockedCountries": blocked})
	if _, err := s.d.Core.Settings.UpdateSettings(r.Context(), patch); err != nil {
		s.refused(w, r, "geofence", err, func(d *settingsData) {
			d.Allowed, d.Blocked = setOf(allowed), setOf(blocked)
		})
		return
	}
	s.redirectBack(w, r, "/admin/settings#geofence", "geofence")
}

// cleanCodes upper-cases and de-duplicates country codes; validation is
// the Manager's.
func cleanCodes(in []string) []string {
	out := make([]string, 0, len(in))
	for _, c := range in {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

var policyKeys = []string{"geofence", "tor", "vpn", "proxy", "datacenter", "threat", "lowScore", "newCountry", "newDevice"}

func (s *server) handlePolicy(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	bad := map[string]string{}
	actions := map[string]any{}
	// A locked input is disabled and not posted: what is not posted is
	// left as it is.
	posted := func(f string) bool { _, ok := r.PostForm[f]; return ok }
	for _, k := range policyKeys {
		if !posted("action." + k) {
			continue
		}
		a := sm.Action(r.PostFormValue("action." + k))
		if !a.Valid() {
			bad["actions."+k] = "choose allow, alert, challenge or block"
			continue
		}
		actions[k] = a
	}
	patch := map[string]any{"actions": actions, "requireEmailConfirmation": r.PostFormValue("requireEmailConfirmation") == "on"}
	if _, locked := s.d.Core.Settings.FeatureLock(sm.FeatureAlerts); !locked {
		patch["newSignInEmail"] = r.PostFormValue("newSignInEmail") == "on"
	}
	if v := r.PostFormValue("geoLookupFailure"); v == "allow" || v == "block" {
		patch["geoLookupFailure"] = v
	} else if posted("geoLookupFailure") {
		bad["geoLookupFailure"] = "allow or block"
	}
	for _, f := range []string{"scoreThreshold", "maxSessionsPerUser", "failedLoginsAccount", "failedLoginsIp", "impossibleTravelKmh"} {
		if !posted(f) {
			continue
		}
		raw := strings.TrimSpace(r.PostFormValue(f))
		n, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			bad[f] = "must be a number"
			continue
		}
		patch[f] = n
	}
	s.savePatch(w, r, "policy", bad, patch)
}

// savePatch answers a settings form: its field errors, else the patch
// applied (refused with the Manager's errors) and back to the form.
func (s *server) savePatch(w http.ResponseWriter, r *http.Request, form string, bad map[string]string, patch map[string]any) {
	if len(bad) > 0 {
		s.refused(w, r, form, sm.InvalidFields(bad), nil)
		return
	}
	body, _ := json.Marshal(patch)
	if _, err := s.d.Core.Settings.UpdateSettings(r.Context(), body); err != nil {
		s.refused(w, r, form, err, nil)
		return
	}
	s.redirectBack(w, r, "/admin/settings#"+form, "settings")
}

// handleProtection stores session protection's actions and refresh limit.
func (s *server) handleProtection(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	bad := map[string]string{}
	actions := map[string]any{}
	for _, k := range sm.SessionActionKeys() {
		if _, ok := r.PostForm["session."+k]; !ok {
			continue // a locked input is disabled and not posted
		}
		a := sm.Action(r.PostFormValue("session." + k))
		if !sm.ValidSessionAction(a) {
			bad["sessionActions."+k] = "choose allow, alert, challenge or terminate"
			continue
		}
		actions[k] = a
	}
	patch := map[string]any{"sessionActions": actions}
	if _, ok := r.PostForm["refreshAnomalyPerMinute"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("refreshAnomalyPerMinute")))
		if err != nil {
			bad["refreshAnomalyPerMinute"] = "must be a whole number"
		}
		patch["refreshAnomalyPerMinute"] = n
	}
	s.savePatch(w, r, "protection", bad, patch)
}

// handleTimeouts stores the session timeouts: an empty field gives the
// timeout back to the environment.
func (s *server) handleTimeouts(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	patch := map[string]any{}
	for _, k := range timeoutKeys {
		if v := strings.TrimSpace(r.PostFormValue(k)); v != "" {
			patch[k] = v
		} else {
			patch[k] = nil
		}
	}
	body, _ := json.Marshal(patch)
	if _, err := s.d.Core.Settings.UpdateSettings(r.Context(), body); err != nil {
		s.refused(w, r, "timeouts", err, func(d *settingsData) {
			for i := range d.Timeouts {
				d.Timeouts[i].Input = strings.TrimSpace(r.PostFormValue(d.Timeouts[i].Key))
			}
		})
		return
	}
	s.redirectBack(w, r, "/admin/settings#timeouts", "timeouts")
}

// handleRuleSave creates (no id) or replaces an alert rule from its JSON
// editor and its condition editor.
func (s *server) handleRuleSave(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	form := "rule:" + id
	_ = r.ParseForm()
	src, cond := r.PostFormValue("rule"), r.PostFormValue("condition")
	// The builder posts fields; a JSON document ("rule") is read as the
	// API reads it.
	_, isJSON := r.PostForm["rule"]
	var rule sm.AlertRule
	var formIndex []int
	var err error
	keep := func(d *settingsData) {
		v := ruleView{ID: id, JSON: src, Condition: cond, Errors: d.Errors}
		if !isJSON {
			builderView(&v, rule)
			v.Errors = formFields(d.Errors, formIndex)
		}
		if id == "" {
			d.NewRule = v
			return
		}
		for i := range d.Rules {
			if d.Rules[i].ID == id {
				if isJSON {
					v.Name, v.Enabled = d.Rules[i].Name, d.Rules[i].Enabled
				}
				v.DisabledReason = d.Rules[i].DisabledReason
				d.Rules[i] = v
			}
		}
	}
	if isJSON {
		rule, err = sm.DecodeAlertRule([]byte(src), "rule")
	} else {
		var bad map[string]string
		rule, formIndex, bad = ruleFromBuilder(r)
		if len(bad) > 0 {
			err = sm.InvalidFields(bad)
		}
	}
	if err != nil {
		s.refused(w, r, form, err, keep)
		return
	}
	// The condition has its own editor: what the JSON says of it is ignored.
	rule.Condition = strings.TrimSpace(cond)
	ctx := r.Context()
	var saved sm.AlertRule
	if id == "" {
		saved, err = s.d.Alerts.Create(ctx, rule)
	} else {
		saved, err = s.d.Alerts.Update(ctx, id, rule)
	}
	if err != nil {
		s.refused(w, r, form, err, keep)
		return
	}
	s.redirectBack(w, r, ruleURL(saved.ID), "rule-saved")
}

// ruleURL is the settings page scrolled to rule id's card, which shows
// the confirmation (?rule=).
func ruleURL(id string) string {
	return "/admin/settings?rule=" + url.QueryEscape(id) + "#rule-" + url.PathEscape(id)
}

// handleRuleTry tries a rule on a recorded event and shows the outcome in
// the rule's card; nothing is delivered.
func (s *server) handleRuleTry(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	seq, perr := strconv.ParseInt(strings.TrimSpace(r.PostFormValue("event")), 10, 64)
	if perr != nil {
		s.refused(w, r, "rule:"+id, sm.InvalidFields(map[string]string{"try": "choose an event to try the rule on"}), ruleErrors(id))
		return
	}
	trial, err := s.d.Core.RuleTrials.TryAlertRule(r.Context(), id, seq)
	if err != nil {
		if sm.ErrorCode(err) == sm.ENOTFOUND {
			err = sm.InvalidFields(map[string]string{"try": sm.ErrorMessage(err)})
		}
		s.refused(w, r, "rule:"+id, err, ruleErrors(id))
		return
	}
	s.settingsPage(w, r, http.StatusOK, func(d *settingsData) {
		d.Form = "rule:" + id
		for i := range d.Rules {
			if d.Rules[i].ID == id {
				d.Rules[i].TrialSeq, d.Rules[i].Trial = seq, &trial
			}
		}
	})
}

func (s *server) handleRuleDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.d.Alerts.Delete(r.Context(), id); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.redirectBack(w, r, "/admin/settings#rules", "rule-deleted")
}

func (s *server) handleRuleTest(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.d.Alerts.TestRule(r.Context(), id); err != nil {
		s.refused(w, r, "rule:"+id, sm.InvalidFields(map[string]string{"test": sm.ErrorMessage(err)}), ruleErrors(id))
		return
	}
	s.redirectBack(w, r, ruleURL(id), "test-sent")
}

// needAlerts answers 404 when no rule admin is wired (the UI is hidden).
func (s *server) needAlerts(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.d.Alerts == nil {
			s.handleNotFound(w, r)
			return
		}
		h(w, r)
	}
}
