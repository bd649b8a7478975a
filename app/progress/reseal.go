package progress

import "context"

// resealBatch bounds one re-seal transaction: a short lock, whatever the number of sites.
const resealBatch = 100

// ResealTokens seals again under the current SECRET_KEY every site's tokens that a key in
// SECRET_KEY_PREVIOUS sealed, batch by batch, and returns how many sites it re-sealed. Once
// it has run after a rotation, the old key can leave SECRET_KEY_PREVIOUS. It logs counts only.
func (w *Worker) ResealTokens(ctx context.Context) int {
	sites, unreadable := 0, 0
	for after := int64(0); ; {
		r, err := w.db.ResealTokens(ctx, after, resealBatch)
		if err != nil {
			w.log.Error("re-sealing tokens under the current SECRET_KEY", "resealed", sites, "err", err)
			return sites
		}
		sites, unreadable = sites+r.Sites, unreadable+r.Unreadable
		if r.Last == 0 {
			break
		}
		after = r.Last
	}
	if unreadable > 0 {
		w.log.Error("tokens under a previous SECRET_KEY do not open with it", "sites", unreadable)
	}
	if sites > 0 {
		w.log.Info("tokens re-sealed under the current SECRET_KEY", "sites", sites)
	}
	return sites
}
