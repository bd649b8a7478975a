package stride

import (
	"regexp"
	"time"
)

// Site is one Thinkific site (tenant) that installed Stride.
type Site struct {
	ID            int64
	Subdomain     string
	GID           string // Thinkific's global id: gid at install, tgid at launch, tenant_global_id in events
	TenantID      string // Thinkific's tenant_id, learned from the first event that names both ids
	Scopes        string // granted scopes, as Thinkific reported them
	InstalledAt   time.Time
	UninstalledAt *time.Time
	// ReconnectNeeded is set when Thinkific refused the site's refresh token: Stride can no
	// longer call Thinkific for it until an admin installs again.
	ReconnectNeeded bool
}

// Installed reports whether the site currently has Stride installed.
func (s *Site) Installed() bool { return s.UninstalledAt == nil }

// Tokens is a site's OAuth token pair, in clear. It only lives in memory.
type Tokens struct {
	Access  string
	Refresh string
	Expiry  time.Time
}

// subdomainRE is a plain Thinkific subdomain: a DNS label of lowercase letters, digits and
// hyphens, not starting or ending with a hyphen, at most 63 characters.
var subdomainRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidSubdomain reports whether s is a plain Thinkific subdomain.
func ValidSubdomain(s string) bool { return subdomainRE.MatchString(s) }

// WebhookTopics are the topics Stride registers on every site.
var WebhookTopics = []string{
	TopicEnrollmentCreated,
	TopicEnrollmentProgress,
	TopicEnrollmentCompleted,
	TopicLessonCompleted,
	TopicAppUninstalled,
	// The course structure changed: Stride reads that course again from the REST API.
	TopicCourseCreated,
	TopicCourseUpdated,
	TopicCourseDeleted,
}

// Webhook states recorded per site and topic.
const (
	WebhookActive = "active" // registered and active on Thinkific
	WebhookFailed = "failed" // Thinkific refused it; LastError says why
)

// Webhook is what Stride knows of one of its webhooks on a site.
type Webhook struct {
	SiteID     int64
	Topic      string
	ExternalID string // Thinkific's webhook id
	TargetURL  string
	Status     string
	LastError  string
	CheckedAt  time.Time
}
