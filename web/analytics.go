package web

import (
	"net/http"
	"strings"
)

func (s *server) handleAnalytics(w http.ResponseWriter, r *http.Request) {
	st, err := s.d.Core.Stats.Stats(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d := analyticsData{Stats: st, Logins: newLineChart(st.LoginsPerDay, wideLayout), LoginsNarrow: newLineChart(st.LoginsPerDay, narrowLayout),
		AvgLabel: formatDuration(st.AvgSessionSeconds)}
	d.Charts = []chartPair{
		newChartPair("Live sessions by country", st.ByCountry, countryLabel),
		newChartPair("By device type", st.ByDevice, func(k string) string {
			if k == "" {
				return "Unknown"
			}
			return strings.ToUpper(k[:1]) + k[1:]
		}),
		newChartPair("By browser", st.ByBrowser, plainLabel),
		newChartPair("By operating system", st.ByOS, plainLabel),
	}
	s.render(w, r, http.StatusOK, "analytics", "Analytics", "analytics", d)
}
