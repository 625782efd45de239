package notion

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jomei/notionapi"
)

// Apply performs one tracking write. Every op is idempotent: it looks for
// the page it would create before creating it, and updates set fixed
// values, so applying an op again after a lost answer changes nothing.
func (c *Client) Apply(ctx context.Context, op Op) error {
	if err := op.Validate(); err != nil {
		return err
	}
	var err error
	switch o := op.(type) {
	case ChristmasAssessment:
		err = c.applyChristmasAssessment(ctx, o)
	case SequenceStart:
		err = c.applySequenceStart(ctx, o)
	case Booking:
		err = c.applyBooking(ctx, o)
	case EmailSent:
		err = c.applyEmailSent(ctx, o)
	case Analytics:
		err = c.applyAnalytics(ctx, o)
	case BXSignup:
		err = c.applyBXSignup(ctx, o)
	case BXAssessment:
		err = c.applyBXAssessment(ctx, o)
	case Unsubscribe:
		err = c.applyUnsubscribe(ctx, o)
	default:
		return fmt.Errorf("%w: unsupported op type %T", ErrInvalidOp, op)
	}
	if err != nil {
		return fmt.Errorf("apply %s: %w", op.Kind(), err)
	}
	return nil
}

// upsert finds the first page of db matching filter and updates it with
// the properties onFound returns, or creates a page with create.
func (c *Client) upsert(ctx context.Context, db string, filter notionapi.Filter,
	create notionapi.Properties, onFound func(*notionapi.Page) notionapi.Properties,
) (pageID string, created bool, err error) {
	pages, err := c.query(ctx, db, filter)
	if err != nil {
		return "", false, err
	}
	if len(pages) == 0 {
		page, err := c.create(ctx, db, create)
		if err != nil {
			return "", false, err
		}
		return string(page.ID), true, nil
	}

	page := &pages[0]
	if err := c.update(ctx, page.ID, onFound(page)); err != nil {
		return "", false, err
	}
	return string(page.ID), false, nil
}

// findContact returns the first page of db whose email property prop
// matches, or nil.
func (c *Client) findContact(ctx context.Context, db, prop, email string) (*notionapi.Page, error) {
	pages, err := c.query(ctx, db, emailFilter(prop, email))
	if err != nil || len(pages) == 0 {
		return nil, err
	}
	return &pages[0], nil
}

func (c *Client) logApplied(ctx context.Context, kind, email, pageID, action string) {
	c.logger.DebugContext(ctx, "notion write applied", slog.String("kind", kind),
		slog.String("email", maskEmail(email)), slog.String("page_id", pageID),
		slog.String("action", action))
}

func action(created bool) string {
	if created {
		return "created"
	}
	return "updated"
}

// --- Christmas signup (BusinessX Canada DB, Email Sequence DB) ---

func (c *Client) applyChristmasAssessment(ctx context.Context, o ChristmasAssessment) error {
	bxDB, err := c.db(envBusinessX)
	if err != nil {
		return err
	}
	seqDB, err := c.db(envSequence)
	if err != nil {
		return err
	}

	contact, err := c.findContact(ctx, bxDB, "email", o.Email)
	if err != nil {
		return err
	}
	if contact == nil {
		// As before: the website owns these contacts; none is created here.
		c.logger.InfoContext(ctx, "notion contact not found, contact update skipped",
			slog.String("kind", o.Kind()), slog.String("email", maskEmail(o.Email)))
	} else if err := c.update(ctx, contact.ID, notionapi.Properties{
		"Assessment Score":          numberProp(float64(o.Score)),
		"Segment":                   selectProp(o.Segment),
		"Christmas Campaign Status": selectProp("Nurture Sequence"),
	}); err != nil {
		return err
	}

	assessment := notionapi.Properties{
		"Segment":              selectProp(o.Segment),
		"Assessment Score":     numberProp(float64(o.Score)),
		"Red Systems":          numberProp(float64(o.Red)),
		"Orange Systems":       numberProp(float64(o.Orange)),
		"Yellow Systems":       numberProp(float64(o.Yellow)),
		"Green Systems":        numberProp(float64(o.Green)),
		"Assessment Completed": checkboxProp(true),
	}
	identity := sequenceIdentity(o.Email, o.FirstName, o.BusinessName, cmp.Or(o.Campaign, defaultCampaign))
	identity["Signup Date"] = timeProp(o.SignedUpAt)

	create := merge(identity, assessment)
	create["Sequence Completed"] = checkboxProp(false)
	id, created, err := c.upsert(ctx, seqDB, sequenceFilter(o.Email, SequenceFiveDay), create,
		func(page *notionapi.Page) notionapi.Properties {
			props := merge(assessment)
			fillEmpty(props, page, identity)
			return props
		})
	if err == nil {
		c.logApplied(ctx, o.Kind(), o.Email, id, action(created))
	}
	return err
}

// sequenceIdentity holds the properties every sequence record starts with.
// Email is written as given; lookups also match its lower-cased form.
func sequenceIdentity(email, firstName, businessName, campaign string) notionapi.Properties {
	props := notionapi.Properties{
		"Email":    emailProp(strings.TrimSpace(email)),
		"Campaign": selectProp(campaign),
	}
	if firstName != "" {
		props["First Name"] = richTextProp(firstName)
	}
	if businessName != "" {
		props["Business Name"] = richTextProp(businessName)
	}
	return props
}

// sequenceFilter finds the record of (email, sequence type); the 5-day
// record is the one with no Template Type.
func sequenceFilter(email, sequenceType string) notionapi.Filter {
	return notionapi.AndCompoundFilter{
		emailFilter("Email", email),
		selectFilter("Template Type", sequenceType),
	}
}

func merge(sets ...notionapi.Properties) notionapi.Properties {
	out := notionapi.Properties{}
	for _, s := range sets {
		for k, v := range s {
			out[k] = v
		}
	}
	return out
}

// --- Secondary sequences (Email Sequence DB) ---

func (c *Client) applySequenceStart(ctx context.Context, o SequenceStart) error {
	seqDB, err := c.db(envSequence)
	if err != nil {
		return err
	}

	fields := merge(
		sequenceIdentity(o.Email, o.FirstName, o.BusinessName, cmp.Or(o.Campaign, defaultCampaign)),
		notionapi.Properties{"Sequence Created": timeProp(o.CreatedAt)},
		sequenceFields(o),
	)
	create := merge(fields, notionapi.Properties{
		"Template Type":      selectProp(o.SequenceType),
		"Sequence Completed": checkboxProp(false),
	})
	// An existing record keeps its values: only what it lacks is filled in
	// (it may have been created by an email_sent that ran first).
	id, created, err := c.upsert(ctx, seqDB, sequenceFilter(o.Email, o.SequenceType), create,
		func(page *notionapi.Page) notionapi.Properties {
			props := notionapi.Properties{}
			fillEmpty(props, page, fields)
			return props
		})
	if err == nil {
		c.logApplied(ctx, o.Kind(), o.Email, id, action(created))
	}
	return err
}

// sequenceFields returns the properties of legacy §6.2 specific to the
// sequence type.
func sequenceFields(o SequenceStart) notionapi.Properties {
	props := notionapi.Properties{}
	text := func(name, v string) {
		if v != "" {
			props[name] = richTextProp(v)
		}
	}
	date := func(name, v string) {
		if d, ok := normalizeDate(v); ok {
			props[name] = dayProp(d)
		}
	}

	switch o.SequenceType {
	case SequenceNoShow:
		text("Calendly Event URI", o.CalendlyEventURI)
		text("Scheduled Time", o.ScheduledTime)
		text("Event Type", o.EventType)
	case SequencePostCall:
		text("Call Date", o.CallDate)
		text("Call Outcome", o.CallOutcome)
		text("Follow-Up Priority", o.FollowUpPriority)
		text("Call Notes", o.CallNotes)
		text("Objections", strings.Join(o.Objections, ", "))
	case SequenceOnboarding:
		props["Payment Amount"] = numberProp(o.PaymentAmount)
		date("Payment Date", o.PaymentDate)
		text("Package Type", o.PackageType)
		text("Salon Address", o.SalonAddress)
		text("Observation Dates", strings.Join(o.ObservationDates, ", "))
		date("Start Date", o.StartDate)
	}
	return props
}

// --- Booking (BusinessX Canada DB) ---

func (c *Client) applyBooking(ctx context.Context, o Booking) error {
	bxDB, err := c.db(envBusinessX)
	if err != nil {
		return err
	}
	contact, err := c.findContact(ctx, bxDB, "email", o.Email)
	if err != nil {
		return err
	}
	if contact == nil {
		c.logger.InfoContext(ctx, "notion contact not found, booking update skipped",
			slog.String("kind", o.Kind()), slog.String("email", maskEmail(o.Email)))
		return nil
	}

	err = c.update(ctx, contact.ID, notionapi.Properties{
		"Booking Status":            selectProp("Booked"),
		"Christmas Campaign Status": selectProp("Pre-Call Prep"),
		"Diagnostic Call Date":      dayProp(o.callDay()),
	})
	if err == nil {
		c.logApplied(ctx, o.Kind(), o.Email, string(contact.ID), "updated")
	}
	return err
}

// callDay is the meeting's date in its own zone.
func (o Booking) callDay() string {
	at := o.MeetingAt
	if loc, err := time.LoadLocation(o.TimeZone); o.TimeZone != "" && err == nil {
		at = at.In(loc)
	}
	return at.Format(time.DateOnly)
}

// --- Email sent (Email Sequence DB, or the BusinessX contact) ---

func (c *Client) applyEmailSent(ctx context.Context, o EmailSent) error {
	if o.SequenceType == SequenceBusinessX {
		return c.applyBXEmailSent(ctx, o)
	}
	seqDB, err := c.db(envSequence)
	if err != nil {
		return err
	}

	sent := notionapi.Properties{fmt.Sprintf("Email %d Sent", o.Number): timeProp(o.SentAt)}
	if o.Last {
		sent["Sequence Completed"] = checkboxProp(true)
	}
	create := merge(sequenceIdentity(o.Email, o.FirstName, o.BusinessName, cmp.Or(o.Campaign, defaultCampaign)), sent)
	if o.SequenceType != SequenceFiveDay {
		create["Template Type"] = selectProp(o.SequenceType)
	}
	if !o.Last {
		create["Sequence Completed"] = checkboxProp(false)
	}

	id, created, err := c.upsert(ctx, seqDB, sequenceFilter(o.Email, o.SequenceType), create,
		func(*notionapi.Page) notionapi.Properties { return sent })
	if err == nil {
		c.logApplied(ctx, o.Kind(), o.Email, id, action(created))
	}
	return err
}

func (c *Client) applyBXEmailSent(ctx context.Context, o EmailSent) error {
	db, err := c.db(envContacts)
	if err != nil {
		return err
	}
	sent := notionapi.Properties{
		fmt.Sprintf("Email %d Sent", o.Number):      checkboxProp(true),
		fmt.Sprintf("Email %d Sent Date", o.Number): timeProp(o.SentAt),
	}
	if o.Last {
		sent["Sequence Complete"] = checkboxProp(true)
	}
	create := merge(notionapi.Properties{"Email": emailProp(strings.TrimSpace(o.Email))}, sent)

	id, created, err := c.upsert(ctx, db, emailFilter("Email", o.Email), create,
		func(*notionapi.Page) notionapi.Properties { return sent })
	if err == nil {
		c.logApplied(ctx, o.Kind(), o.Email, id, action(created))
	}
	return err
}

// --- Analytics (Email Analytics DB) ---

// applyAnalytics writes one row per attempt. Before creating, it looks for
// a row of the same email, template and number, and skips when one has the
// same status and Sent Date (to the second): that row is this attempt,
// written by an earlier try whose answer was lost.
func (c *Client) applyAnalytics(ctx context.Context, o Analytics) error {
	db, err := c.db(envAnalytics)
	if err != nil {
		return err
	}
	templateID := cmp.Or(strings.TrimSpace(o.TemplateID), defaultTemplateID)

	pages, err := c.query(ctx, db, notionapi.AndCompoundFilter{
		emailFilter("Email", o.Email),
		richTextFilter("Template ID", templateID),
		numberFilter("Email Number", float64(o.Number)),
	})
	if err != nil {
		return err
	}
	for i := range pages {
		status, _ := optionName(pages[i].Properties["Status"])
		if status == o.Status && sameSecond(pages[i].Properties["Sent Date"], o.SentAt) {
			c.logApplied(ctx, o.Kind(), o.Email, string(pages[i].ID), "already present")
			return nil
		}
	}

	page, err := c.create(ctx, db, analyticsProps(o, templateID))
	if err != nil {
		return err
	}
	c.logApplied(ctx, o.Kind(), o.Email, string(page.ID), "created")
	return nil
}

func analyticsProps(o Analytics, templateID string) notionapi.Properties {
	props := notionapi.Properties{
		"Email":        emailProp(strings.TrimSpace(o.Email)),
		"Template ID":  richTextProp(templateID),
		"Email Number": numberProp(float64(o.Number)),
		"Status":       selectProp(o.Status),
		"Sent Date":    timeProp(o.SentAt),
		"Campaign":     selectProp(cmp.Or(o.Campaign, defaultAnalyticsCampaign)),
	}
	if o.Status == StatusSent && o.ResendID != "" {
		props["Resend Email ID"] = richTextProp(o.ResendID)
	}
	if o.Status == StatusFailed && o.Error != "" {
		props["Error Message"] = richTextProp(o.Error)
	}
	return props
}

// --- BusinessX contacts DB ---

func (c *Client) applyBXSignup(ctx context.Context, o BXSignup) error {
	db, err := c.db(envContacts)
	if err != nil {
		return err
	}
	source := selectProp(cmp.Or(o.Source, defaultSignupSource))
	identity := notionapi.Properties{"Email": emailProp(strings.TrimSpace(o.Email))}
	if o.Name != "" {
		identity["Name"] = titleProp(o.Name)
	}
	if o.FirstName != "" {
		identity["First Name"] = richTextProp(o.FirstName)
	}
	if o.BusinessName != "" {
		identity["Business Name"] = richTextProp(o.BusinessName)
	}
	identity["Signup Date"] = timeProp(o.At)

	id, created, err := c.upsert(ctx, db, emailFilter("Email", o.Email),
		merge(identity, notionapi.Properties{"Signup Source": source}),
		func(page *notionapi.Page) notionapi.Properties { return resignup(page, o, identity, source) })
	if err == nil {
		c.logApplied(ctx, o.Kind(), o.Email, id, action(created))
	}
	return err
}

// resignup returns the update for a signup whose contact exists. When its
// Signup Date is this signup's, this op already created it: nothing to do.
// When the contact has no Signup Date (an assessment created it first),
// this is its first signup. Otherwise it is a re-signup.
func resignup(page *notionapi.Page, o BXSignup, identity notionapi.Properties, source notionapi.Property) notionapi.Properties {
	if sameSecond(page.Properties["Signup Date"], o.At) {
		return nil
	}
	props := notionapi.Properties{"Signup Source": source}
	if isEmpty(page, "Signup Date") {
		fillEmpty(props, page, identity)
		return props
	}
	props["Last Signup Date"] = timeProp(o.At)
	return props
}

func (c *Client) applyBXAssessment(ctx context.Context, o BXAssessment) error {
	db, err := c.db(envContacts)
	if err != nil {
		return err
	}
	props := notionapi.Properties{
		"Assessment Completed": checkboxProp(true),
		"Red Systems":          numberProp(float64(o.Red)),
		"Orange Systems":       numberProp(float64(o.Orange)),
		"Yellow Systems":       numberProp(float64(o.Yellow)),
		"Green Systems":        numberProp(float64(o.Green)),
		"Segment":              selectProp(o.Segment),
	}
	if o.Score != nil {
		props["Assessment Score"] = numberProp(float64(*o.Score))
	}
	create := merge(notionapi.Properties{"Email": emailProp(strings.TrimSpace(o.Email))}, props)

	id, created, err := c.upsert(ctx, db, emailFilter("Email", o.Email), create,
		func(*notionapi.Page) notionapi.Properties { return props })
	if err == nil {
		c.logApplied(ctx, o.Kind(), o.Email, id, action(created))
	}
	return err
}
