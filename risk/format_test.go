package risk

import (
	"math"
	"testing"
	"time"
)

func TestAppendThousands(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {16080, "16,080"},
		{1234567, "1,234,567"}, {-1234, "-1,234"},
		{math.MaxInt64, "9,223,372,036,854,775,807"},
		{math.MinInt64, "-9,223,372,036,854,775,808"},
	}
	for _, tc := range tests {
		if got := string(appendThousands(nil, tc.n)); got != tc.want {
			t.Errorf("appendThousands(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestAppendElapsed(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Hour, "0s"}, {0, "0s"}, {30 * time.Second, "30s"}, {90 * time.Second, "1m"},
		{45 * time.Minute, "45m"}, {time.Hour, "1h"}, {70 * time.Minute, "1h 10m"},
		{24 * time.Hour, "1d"}, {50*time.Hour + 59*time.Minute, "2d 2h"},
	}
	for _, tc := range tests {
		if got := string(appendElapsed(nil, tc.d)); got != tc.want {
			t.Errorf("appendElapsed(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
