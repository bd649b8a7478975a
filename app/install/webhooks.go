package install

import (
	"context"
	"net/url"

	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkific"
)

// Report says what a reconcile did, topic by topic.
type Report struct {
	Kept, Created, Replaced []string
	Failed                  map[string]string // topic → why Thinkific refused it
}

// Reconcile makes the site's webhooks what Stride needs: one active webhook per topic
// aimed at WebhookURL. Correct ones are left alone; Stride's own that are stale (an old
// target, deactivated, duplicated) are replaced; nobody else's are touched.
func (s *Service) Reconcile(ctx context.Context, site *stride.Site) (Report, error) {
	hooks, err := s.api.ListWebhooks(ctx, s.tokens.source(site))
	if err != nil {
		return Report{}, err
	}
	return s.reconcile(ctx, site, s.tokens.source(site), hooks)
}

func (s *Service) reconcile(ctx context.Context, site *stride.Site, auth thinkific.TokenSource, hooks []thinkific.Webhook) (Report, error) {
	recorded, err := s.db.Webhooks(ctx, site.ID)
	if err != nil {
		return Report{}, err
	}
	ours := map[string]bool{}
	for _, w := range recorded {
		if w.ExternalID != "" {
			ours[w.ExternalID] = true
		}
	}
	target := s.cfg.WebhookURL
	isOurs := func(w thinkific.Webhook) bool {
		if w.TargetURL == target || ours[w.ID] {
			return true
		}
		// Stride at an earlier address (APP_URL changed, or the app moved).
		u, err := url.Parse(w.TargetURL)
		return err == nil && u.Path == "/webhooks/thinkific"
	}

	rep := Report{Failed: map[string]string{}}
	for _, topic := range stride.WebhookTopics {
		var keep *thinkific.Webhook
		var stale []thinkific.Webhook
		for _, w := range hooks {
			if w.Topic != topic || !isOurs(w) {
				continue
			}
			if keep == nil && w.TargetURL == target && w.Status == "active" {
				keep = &w
			} else {
				stale = append(stale, w)
			}
		}
		for _, w := range stale {
			if err := s.api.DeleteWebhook(ctx, auth, w.ID); err != nil {
				return rep, err
			}
		}
		rec := stride.Webhook{SiteID: site.ID, Topic: topic, TargetURL: target, Status: stride.WebhookActive}
		switch {
		case keep != nil:
			rec.ExternalID = keep.ID
			rep.Kept = append(rep.Kept, topic)
		default:
			created, err := s.api.CreateWebhook(ctx, auth, topic, target)
			if stride.ErrorCode(err) == stride.EINVALID {
				rec.Status, rec.LastError = stride.WebhookFailed, stride.ErrorMessage(err)
				rep.Failed[topic] = rec.LastError
				s.log.Warn("webhook refused", "site", site.ID, "topic", topic, "err", err)
				break
			}
			if err != nil {
				return rep, err
			}
			rec.ExternalID = created.ID
			if len(stale) > 0 {
				rep.Replaced = append(rep.Replaced, topic)
			} else {
				rep.Created = append(rep.Created, topic)
			}
		}
		if err := s.db.SaveWebhook(ctx, rec); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// reconcileAndSchedule reconciles right after an install and sets the next sweep: soon
// when something failed, a full interval otherwise.
func (s *Service) reconcileAndSchedule(ctx context.Context, site *stride.Site, hooks []thinkific.Webhook) {
	rep, err := s.reconcile(ctx, site, s.tokens.source(site), hooks)
	s.schedule(ctx, site, rep, err)
}

func (s *Service) schedule(ctx context.Context, site *stride.Site, rep Report, err error) {
	next := s.cfg.SweepInterval
	if err != nil || len(rep.Failed) > 0 {
		next = min(next, retrySoon)
		s.log.Warn("webhooks not fully registered", "site", site.ID, "failed", rep.Failed, "err", err)
	} else if len(rep.Created)+len(rep.Replaced) > 0 {
		s.log.Info("webhooks registered", "site", site.ID, "created", rep.Created, "replaced", rep.Replaced)
	}
	if err := s.db.SetWebhooksDue(ctx, site.ID, s.clock.Now().Add(next)); err != nil {
		s.log.Error("scheduling webhook sweep", "site", site.ID, "err", err)
	}
}
