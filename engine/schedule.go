package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseSchedule reads "every 10m", "daily 06:00" or a cron line (five
// fields, or descriptors such as @hourly) in loc.
func ParseSchedule(s string, loc *time.Location) (cron.Schedule, error) {
	if rest, ok := strings.CutPrefix(strings.TrimSpace(s), "daily "); ok {
		t, err := time.Parse("15:04", strings.TrimSpace(rest))
		if err != nil {
			return nil, errors.New(`after "daily" want a time of day such as 06:00`)
		}
		s = fmt.Sprintf("%d %d * * *", t.Minute(), t.Hour())
	} else if rest, ok := strings.CutPrefix(strings.TrimSpace(s), "every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return nil, fmt.Errorf("after \"every\" want a duration such as 10m or 1h30m: %w", err)
		}
		if d < time.Second {
			return nil, errors.New("the interval must be at least 1s")
		}
		return cron.Every(d), nil
	}
	sched, err := cron.ParseStandard("CRON_TZ=" + loc.String() + " " + s)
	if err != nil {
		return nil, fmt.Errorf("want \"every DURATION\", \"daily HH:MM\" or a cron line such as \"*/10 * * * *\": %w", err)
	}
	return sched, nil
}
