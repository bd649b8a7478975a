package digest

import (
	"context"
	"time"

	"github.com/strideapp/stride/app/store"
)

// Period is how far back a digest looks: the 7 days before it is sent.
const Period = 7 * 24 * time.Hour

// namedStalled is how many of the learners who became stalled a digest names.
const namedStalled = 25

// Content is one site's digest, as the mail shows it.
type Content struct {
	Subdomain string
	Zone      *time.Location
	Week      *store.DigestWeek
	Drop      *Drop  // nil when no course loses learners between two lessons
	AdminURL  string // Stride inside the Thinkific admin: never a launch or bearer link
}

// Drop is the lesson that loses the largest share of the learners of the lesson before it,
// in a course's curriculum.
type Drop struct {
	Course   string
	Lesson   string
	Previous string
	From, To int64 // learners of the previous lesson, of this one
}

// Share is the part of the previous lesson's learners this lesson lost, 0..1.
func (d *Drop) Share() float64 { return float64(d.From-d.To) / float64(d.From) }

// Percent is Share in whole percent, for the mail.
func (d *Drop) Percent() int { return int(d.Share()*100 + 0.5) }

func (d *Drop) fromOr1() int64 {
	if d == nil {
		return 1
	}
	return d.From
}

func (d *Drop) lost() int64 {
	if d == nil {
		return 0
	}
	return d.Lost()
}

// Lost is how many learners the lesson lost.
func (d *Drop) Lost() int64 { return d.From - d.To }

// compose reads what the site's digest says at now.
func compose(ctx context.Context, v *store.SiteView, subdomain, adminURL string, now time.Time) (*Content, error) {
	settings, err := v.Settings(ctx)
	if err != nil {
		return nil, err
	}
	week, err := v.DigestWeek(ctx, now.Add(-Period), now, settings.StalledAfter(), namedStalled)
	if err != nil {
		return nil, err
	}
	drop, err := biggestDrop(ctx, v)
	if err != nil {
		return nil, err
	}
	return &Content{Subdomain: subdomain, Zone: Zone(settings), Week: week, Drop: drop, AdminURL: adminURL}, nil
}

// biggestDrop finds, over the site's courses' funnels, the lesson of a curriculum that
// keeps the smallest share of the previous lesson's learners (the larger loss on a tie).
func biggestDrop(ctx context.Context, v *store.SiteView) (*Drop, error) {
	courses, err := v.Courses(ctx)
	if err != nil {
		return nil, err
	}
	var best *Drop
	for _, c := range courses {
		funnel, err := v.Funnel(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		for i := 1; i < len(funnel); i++ {
			prev, cur := funnel[i-1], funnel[i]
			if !prev.InCourse || !cur.InCourse || prev.Learners <= 0 || cur.Learners >= prev.Learners {
				continue
			}
			d := &Drop{Course: c.Name, Lesson: cur.Lesson, Previous: prev.Lesson, From: prev.Learners, To: cur.Learners}
			// Shares compared as cross products: exact, no float ties.
			if l, r := d.Lost()*best.fromOr1(), best.lost()*d.From; best == nil || l > r || (l == r && d.Lost() > best.lost()) {
				best = d
			}
		}
	}
	return best, nil
}
