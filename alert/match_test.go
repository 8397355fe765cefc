package alert

import (
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func TestTriggerMatches(t *testing.T) {
	reasons := func(codes ...string) *sm.Assessment {
		a := &sm.Assessment{Score: 80}
		for _, c := range codes {
			a.Reasons = append(a.Reasons, sm.RiskReason{Code: c, Weight: 10})
		}
		return a
	}
	forty := 40
	tests := []struct {
		trigger  string
		in       sm.AlertInput
		lowBelow *int
		want     bool
	}{
		{TriggerNewCountry, sm.AlertInput{Assessment: reasons(sm.ReasonNewCountry)}, nil, true},
		{TriggerNewCountry, sm.AlertInput{Assessment: reasons(sm.ReasonNewDevice)}, nil, false},
		{TriggerNewDevice, sm.AlertInput{Assessment: reasons(sm.ReasonNewDevice)}, nil, true},
		{TriggerImpossibleTravel, sm.AlertInput{Assessment: reasons(sm.ReasonImpossibleTravel)}, nil, true},
		{TriggerImpossibleTravel, sm.AlertInput{}, nil, false},
		{TriggerVPN, sm.AlertInput{Threat: sm.Threat{VPN: true}}, nil, true},
		{TriggerVPN, sm.AlertInput{Assessment: reasons(sm.ReasonVPN)}, nil, true},
		{TriggerVPN, sm.AlertInput{Threat: sm.Threat{Proxy: true}}, nil, false},
		{TriggerProxy, sm.AlertInput{Threat: sm.Threat{Proxy: true}}, nil, true},
		{TriggerTor, sm.AlertInput{Threat: sm.Threat{Tor: true}}, nil, true},
		{TriggerTor, sm.AlertInput{Threat: sm.Threat{VPN: true}}, nil, false},
		{TriggerDatacenter, sm.AlertInput{Threat: sm.Threat{Datacenter: true}}, nil, true},
		{TriggerThreat, sm.AlertInput{Threat: sm.Threat{KnownThreat: true}}, nil, true},
		{TriggerThreat, sm.AlertInput{Assessment: reasons(sm.ReasonKnownThreat)}, nil, true},
		{TriggerLowScore, sm.AlertInput{Assessment: &sm.Assessment{Score: 30, Triggered: map[string]sm.Action{sm.ReasonLowScore: sm.ActionAlert}}}, nil, true},
		{TriggerLowScore, sm.AlertInput{Assessment: &sm.Assessment{Score: 30}}, nil, false},
		{TriggerLowScore, sm.AlertInput{Assessment: &sm.Assessment{Score: 39}}, &forty, true},
		{TriggerLowScore, sm.AlertInput{Assessment: &sm.Assessment{Score: 40}}, &forty, false},
		{TriggerLowScore, sm.AlertInput{}, &forty, false},
		{TriggerLoginBlocked, sm.AlertInput{Event: &sm.Event{Type: sm.EventLoginBlocked}}, nil, true},
		{TriggerLoginBlocked, sm.AlertInput{Event: &sm.Event{Type: sm.EventLoginSucceeded}}, nil, false},
		{TriggerRefreshReuse, sm.AlertInput{Event: &sm.Event{Type: sm.EventRefreshReuse}}, nil, true},
		{TriggerRefreshReuse, sm.AlertInput{Event: &sm.Event{Type: sm.EventLoginBlocked}}, nil, false},
		// Challenge events fire only the challenge triggers, each on its own event;
		// the risk triggers wait for the login's outcome (no double alert).
		{TriggerLoginChallenged, sm.AlertInput{Event: &sm.Event{Type: sm.EventLoginChallenged}}, nil, true},
		{TriggerLoginChallenged, sm.AlertInput{Event: &sm.Event{Type: sm.EventChallengePassed}}, nil, false},
		{TriggerChallengePassed, sm.AlertInput{Event: &sm.Event{Type: sm.EventChallengePassed}}, nil, true},
		{TriggerChallengeFailed, sm.AlertInput{Event: &sm.Event{Type: sm.EventChallengeFailed}}, nil, true},
		{TriggerChallengeFailed, sm.AlertInput{Event: &sm.Event{Type: sm.EventLoginSucceeded}}, nil, false},
		{TriggerVPN, sm.AlertInput{Event: &sm.Event{Type: sm.EventLoginChallenged}, Threat: sm.Threat{VPN: true}, Assessment: reasons(sm.ReasonVPN)}, nil, false},
		{TriggerNewDevice, sm.AlertInput{Event: &sm.Event{Type: sm.EventChallengePassed}, Assessment: reasons(sm.ReasonNewDevice)}, nil, false},
		{TriggerLoginBlocked, sm.AlertInput{Event: &sm.Event{Type: sm.EventChallengeFailed}}, nil, false},
	}
	for i, tt := range tests {
		if got := triggerMatches(tt.trigger, &tt.in, tt.lowBelow); got != tt.want {
			t.Errorf("#%d %s = %v, want %v", i, tt.trigger, got, tt.want)
		}
	}
}

func TestSeverity(t *testing.T) {
	tests := []struct {
		event    string
		triggers []string
		want     string
	}{
		{sm.EventLoginSucceeded, []string{TriggerNewDevice}, SeverityInfo},
		{sm.EventLoginSucceeded, []string{TriggerNewDevice, TriggerVPN}, SeverityWarning},
		{sm.EventLoginSucceeded, []string{TriggerVPN, TriggerTor}, SeverityCritical},
		{sm.EventLoginBlocked, []string{"condition"}, SeverityCritical},
		{sm.EventRefreshReuse, nil, SeverityCritical},
	}
	for _, tt := range tests {
		if got := severityOf(tt.event, tt.triggers); got != tt.want {
			t.Errorf("severityOf(%s, %v) = %s, want %s", tt.event, tt.triggers, got, tt.want)
		}
	}
}
