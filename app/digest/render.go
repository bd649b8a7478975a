package digest

import (
	"bytes"
	_ "embed"
	htmltemplate "html/template"
	"strconv"
	texttemplate "text/template"
	"time"
)

var (
	//go:embed mail.html
	mailHTML string
	//go:embed mail.txt
	mailText string

	funcs = map[string]any{
		"stamp": func(t time.Time, loc *time.Location) string { return t.In(loc).Format("Mon 2 Jan 2006 15:04 MST") },
		"pct":   func(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) + "%" },
		"sub":   func(a int64, b int) int64 { return a - int64(b) },
	}
	htmlMail = htmltemplate.Must(htmltemplate.New("mail.html").Funcs(funcs).Parse(mailHTML))
	textMail = texttemplate.Must(texttemplate.New("mail.txt").Funcs(funcs).Parse(mailText))
)

// render is the digest's HTML part (escaped) and plain text part.
func render(c *Content, unsubscribeURL string) (html, text string, err error) {
	data := struct {
		*Content
		UnsubscribeURL string
	}{c, unsubscribeURL}
	var h, t bytes.Buffer
	if err := htmlMail.Execute(&h, data); err != nil {
		return "", "", err
	}
	if err := textMail.Execute(&t, data); err != nil {
		return "", "", err
	}
	return h.String(), t.String(), nil
}
