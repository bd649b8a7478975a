package install

import (
	"context"
	"slices"

	"github.com/strideapp/stride/app/metrics"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkific"
)

// Report says what a reconcile did, topic by topic.
type Report struct {
	Kept, Created, Replaced []string
	Failed                  map[string]string // topic → why it has no webhook
	// Refused is true when every failure was Thinkific refusing the webhook (422), which
	// trying again in a minute will not change.
	Refused bool
}

// Reconcile makes the site's webhooks what Stride needs: one active webhook per topic
// aimed at WebhookURL. Correct ones are left alone; Stride's own that are stale (an old
// target, deactivated, duplicated) are replaced; nobody else's are touched.
func (s *Service) Reconcile(ctx context.Context, site *stride.Site) (Report, error) {
	hooks, err := s.api.ListWebhooks(ctx, s.tokens.source(site))
	if err != nil {
		s.cfg.Metrics.Reconciled(metrics.Unreachable, 1)
		return Report{}, err
	}
	return s.reconcile(ctx, site, s.tokens.source(site), hooks)
}

// reconcile goes through every topic even when one fails, so one refused or failed create
// costs that topic only. Only a token Thinkific no longer accepts stops it: nothing else
// could succeed either.
func (s *Service) reconcile(ctx context.Context, site *stride.Site, auth thinkific.TokenSource, hooks []thinkific.Webhook) (rep Report, err error) {
	defer func() { s.count(rep) }()
	recorded, err := s.db.Webhooks(ctx, site.ID)
	if err != nil {
		return Report{}, err
	}
	// Ownership is what Stride recorded, its current target and the earlier addresses it
	// was told about. A webhook at another host is never Stride's by its path alone: it may
	// be another vendor's, or another Stride deployment's.
	ours := map[string]bool{}
	for _, w := range recorded {
		if w.ExternalID != "" {
			ours[w.ExternalID] = true
		}
	}
	isOurs := func(w thinkific.Webhook) bool {
		return w.TargetURL == s.cfg.WebhookURL || ours[w.ID] || slices.Contains(s.cfg.PreviousWebhookURLs, w.TargetURL)
	}

	rep = Report{Failed: map[string]string{}, Refused: true}
	for _, topic := range stride.WebhookTopics {
		var mine []thinkific.Webhook
		for _, w := range hooks {
			if w.Topic == topic && isOurs(w) {
				mine = append(mine, w)
			}
		}
		rec, err := s.ensure(ctx, site, auth, topic, mine, &rep)
		if err != nil {
			rec.Status, rec.LastError = stride.WebhookFailed, stride.ErrorMessage(err)
			rep.Failed[topic] = rec.LastError
			rep.Refused = rep.Refused && stride.ErrorCode(err) == stride.EINVALID
			s.log.Warn("webhook not registered", "site", site.ID, "topic", topic, "err", err)
		}
		if saveErr := s.db.SaveWebhook(ctx, rec); saveErr != nil {
			return rep, saveErr
		}
		if c := stride.ErrorCode(err); c == stride.EUNAUTHORIZED || c == stride.EFORBIDDEN {
			return rep, err
		}
	}
	return rep, nil
}

// count records what a reconcile did, topic by topic.
func (s *Service) count(rep Report) {
	m := s.cfg.Metrics
	m.Reconciled(metrics.Kept, len(rep.Kept))
	m.Reconciled(metrics.Created, len(rep.Created))
	m.Reconciled(metrics.Replaced, len(rep.Replaced))
	m.Reconciled(metrics.Failed, len(rep.Failed))
}

// ensure gives topic its one active webhook at WebhookURL, mine being Stride's webhooks of
// that topic now. A replacement is created before anything stale is deleted, so a failed
// create leaves the site with what it had.
func (s *Service) ensure(ctx context.Context, site *stride.Site, auth thinkific.TokenSource, topic string, mine []thinkific.Webhook, rep *Report) (stride.Webhook, error) {
	target := s.cfg.WebhookURL
	rec := stride.Webhook{SiteID: site.ID, Topic: topic, TargetURL: target, Status: stride.WebhookActive}
	var keep *thinkific.Webhook
	var stale []thinkific.Webhook
	for _, w := range mine {
		if keep == nil && w.TargetURL == target && w.Status == "active" {
			keep = &w
		} else {
			stale = append(stale, w)
		}
	}
	switch {
	case keep != nil:
		rep.Kept = append(rep.Kept, topic)
	default:
		created, err := s.api.CreateWebhook(ctx, auth, topic, target)
		if thinkific.TopicTaken(err) && len(stale) > 0 {
			created, stale, err = s.takeOver(ctx, auth, topic, stale)
		}
		if err != nil {
			return rec, err
		}
		keep = &created
		if len(mine) > 0 {
			rep.Replaced = append(rep.Replaced, topic)
		} else {
			rep.Created = append(rep.Created, topic)
		}
	}
	rec.ExternalID = keep.ID
	for _, w := range stale {
		// The topic has its webhook: a stale one left behind is only a duplicate, and the
		// next sweep deletes it.
		if err := s.api.DeleteWebhook(ctx, auth, w.ID); err != nil {
			s.log.Warn("stale webhook not deleted", "site", site.ID, "topic", topic, "webhook", w.ID, "err", err)
		}
	}
	return rec, nil
}

// takeOver is for a site where Thinkific refused a new webhook because Stride's stale one
// holds the topic. An active stale webhook is pointed at WebhookURL in place (PUT), so
// events keep arriving throughout. Failing that, or when every stale one is deactivated
// and so delivers nothing anyway, they are deleted and the webhook created again. It
// returns the webhook now serving the topic and the stale ones still to delete.
func (s *Service) takeOver(ctx context.Context, auth thinkific.TokenSource, topic string, stale []thinkific.Webhook) (thinkific.Webhook, []thinkific.Webhook, error) {
	for i, w := range stale {
		if w.Status != "active" {
			continue
		}
		moved, err := s.api.UpdateWebhook(ctx, auth, w.ID, s.cfg.WebhookURL)
		if err == nil && moved.Status == "active" {
			return moved, slices.Delete(slices.Clone(stale), i, i+1), nil
		}
		if err != nil && stride.ErrorCode(err) != stride.EINVALID {
			return thinkific.Webhook{}, stale, err
		}
		break
	}
	for _, w := range stale {
		if err := s.api.DeleteWebhook(ctx, auth, w.ID); err != nil {
			return thinkific.Webhook{}, nil, err
		}
	}
	created, err := s.api.CreateWebhook(ctx, auth, topic, s.cfg.WebhookURL)
	return created, nil, err
}
