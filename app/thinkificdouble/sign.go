package thinkificdouble

// Sign is Thinkific's X-Thinkific-Hmac-Sha256 for body under key (the app's client secret,
// or the site's API key for webhooks made in the admin UI), so tools outside the double
// sign exactly as it does.
func Sign(key string, body []byte) string { return sign(key, body) }
