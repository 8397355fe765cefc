package risk

import (
	"strconv"
	"time"
)

// Reason details are built with strconv appends, not fmt: Assess runs on
// every login and must stay well under a microsecond.

// appendThousands appends n with a comma every three digits ("16,080").
func appendThousands(b []byte, n int64) []byte {
	u := uint64(n)
	if n < 0 {
		b = append(b, '-')
		u = uint64(-n) // wraps correctly even for math.MinInt64
	}
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], u, 10)
	for i, c := range d {
		if i > 0 && (len(d)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	return b
}

// appendElapsed appends d as "3d 4h", "1h 10m", "45m", "30s" or "0s".
func appendElapsed(b []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	minutes := int64(d / time.Minute)
	days, hours, mins := minutes/(24*60), minutes/60%24, minutes%60
	switch {
	case days > 0:
		return appendUnits(b, days, 'd', hours, 'h')
	case hours > 0:
		return appendUnits(b, hours, 'h', mins, 'm')
	case mins > 0:
		return appendUnits(b, mins, 'm', 0, 0)
	}
	return appendUnits(b, int64(d/time.Second), 's', 0, 0)
}

// appendUnits appends "<major><unit>" and " <minor><unit>" when minor > 0.
func appendUnits(b []byte, major int64, majorUnit byte, minor int64, minorUnit byte) []byte {
	b = strconv.AppendInt(b, major, 10)
	b = append(b, majorUnit)
	if minor > 0 {
		b = append(b, ' ')
		b = strconv.AppendInt(b, minor, 10)
		b = append(b, minorUnit)
	}
	return b
}
