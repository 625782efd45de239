package resendtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
)

// Limits Resend applies to a send request.
const (
	maxRecipients = 50
	maxBatch      = 100
	maxTagLen     = 256
)

// SendRequest is the body of POST /emails as Resend reads it. Fields the
// fake does not check are ignored.
type SendRequest struct {
	From    string            `json:"from"`
	To      Addresses         `json:"to"`
	Subject string            `json:"subject"`
	HTML    string            `json:"html,omitempty"`
	Text    string            `json:"text,omitempty"`
	ReplyTo Addresses         `json:"reply_to,omitempty"`
	Cc      Addresses         `json:"cc,omitempty"`
	Bcc     Addresses         `json:"bcc,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Tags    []Tag             `json:"tags,omitempty"`
}

// Tag is a Resend email tag.
type Tag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Addresses is a recipient field, which Resend accepts as a string or an
// array of strings.
type Addresses []string

// UnmarshalJSON accepts "a@x" as well as ["a@x", "b@x"]; null and ""
// mean no address.
func (a *Addresses) UnmarshalJSON(b []byte) error {
	var one *string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = nil
		if one != nil && *one != "" {
			*a = Addresses{*one}
		}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("decode addresses: want a string or an array of strings")
	}
	*a = many
	return nil
}

// apiError is Resend's error body.
type apiError struct {
	StatusCode int    `json:"statusCode"`
	Name       string `json:"name"`
	Message    string `json:"message"`
}

func newError(status int, name, format string, args ...any) *apiError {
	return &apiError{StatusCode: status, Name: name, Message: fmt.Sprintf(format, args...)}
}

func missingField(field string) *apiError {
	return newError(http.StatusUnprocessableEntity, "missing_required_field", "Missing `%s` field.", field)
}

func invalidField(format string, args ...any) *apiError {
	return newError(http.StatusUnprocessableEntity, "validation_error", format, args...)
}

var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// validate checks a request the way Resend does before sending, and
// returns the first problem found.
func (r *SendRequest) validate() *apiError {
	switch {
	case r.From == "":
		return missingField("from")
	case len(r.To) == 0:
		return missingField("to")
	case r.Subject == "":
		return missingField("subject")
	case r.HTML == "" && r.Text == "":
		return missingField("html` or `text")
	}
	if _, err := mail.ParseAddress(r.From); err != nil {
		return invalidField("Invalid `from` field: use `email@example.com` or `Name <email@example.com>`.")
	}
	if len(r.To) > maxRecipients {
		return invalidField("Too many recipients in `to`: %d, the limit is %d.", len(r.To), maxRecipients)
	}
	for _, fields := range []struct {
		name  string
		addrs Addresses
	}{{"to", r.To}, {"reply_to", r.ReplyTo}, {"cc", r.Cc}, {"bcc", r.Bcc}} {
		if e := checkAddresses(fields.name, fields.addrs); e != nil {
			return e
		}
	}
	return checkTags(r.Tags)
}

// checkAddresses requires every address of a field to parse.
func checkAddresses(field string, addrs Addresses) *apiError {
	for _, a := range addrs {
		if _, err := mail.ParseAddress(a); err != nil {
			return invalidField("Invalid `%s` field: use `email@example.com` or `Name <email@example.com>`.", field)
		}
	}
	return nil
}

// checkTags applies Resend's tag charset and length rules.
func checkTags(tags []Tag) *apiError {
	for _, t := range tags {
		for _, s := range []string{t.Name, t.Value} {
			if len(s) > maxTagLen || !tagPattern.MatchString(s) {
				return invalidField("Invalid tag %q: names and values use ASCII letters, "+
					"digits, `_` and `-` only, up to %d chars.", s, maxTagLen)
			}
		}
	}
	return nil
}

// decodeSend parses the body of POST /emails.
func decodeSend(body []byte) (*SendRequest, *apiError) {
	var r SendRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, invalidField("The request body is not a valid email object: %v.", err)
	}
	if e := r.validate(); e != nil {
		return nil, e
	}
	return &r, nil
}

// decodeBatch parses the body of POST /emails/batch and splits it into
// valid requests and, with permissive validation, per-index errors.
func decodeBatch(body []byte, permissive bool) ([]*SendRequest, []batchError, *apiError) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, nil, invalidField("The request body must be an array of email objects.")
	}
	if len(raw) == 0 || len(raw) > maxBatch {
		return nil, nil, invalidField("A batch holds 1 to %d emails, got %d.", maxBatch, len(raw))
	}

	var valid []*SendRequest
	var rejected []batchError
	for i, item := range raw {
		r, e := decodeSend(item)
		switch {
		case e == nil:
			valid = append(valid, r)
		case !permissive:
			e.Message = fmt.Sprintf("emails[%d]: %s", i, e.Message)
			return nil, nil, e
		default:
			rejected = append(rejected, batchError{Index: i, Message: e.Message})
		}
	}
	return valid, rejected, nil
}

// sendResponse is the answer to POST /emails.
type sendResponse struct {
	ID string `json:"id"`
}

// batchResponse is the answer to POST /emails/batch.
type batchResponse struct {
	Data   []sendResponse `json:"data"`
	Errors []batchError   `json:"errors,omitempty"`
}

// batchError reports one email refused under permissive validation.
type batchError struct {
	Index   int    `json:"index"`
	Message string `json:"message"`
}
