package notiontest

import "fmt"

// Schema maps each property of a database to its Notion type: "title",
// "rich_text", "email", "number", "select", "status", "multi_select",
// "date", "checkbox", "url", "phone_number", "created_time" or
// "last_edited_time". Every database has exactly one title property.
type Schema map[string]string

// Ids of the legacy databases declared by LegacySchemas.
const (
	EmailTemplatesDB   = "0b1e7a11-0000-4000-8000-000000000001"
	SequenceDB         = "0b1e7a11-0000-4000-8000-000000000002"
	BusinessXDB        = "0b1e7a11-0000-4000-8000-000000000003"
	AnalyticsDB        = "0b1e7a11-0000-4000-8000-000000000004"
	CustomerProjectsDB = "0b1e7a11-0000-4000-8000-000000000005"
	ContactsDB         = "0b1e7a11-0000-4000-8000-000000000006"
	BXTemplatesDB      = "0b1e7a11-0000-4000-8000-000000000007"
)

// LegacyEnv maps each legacy database id to its environment variable.
var LegacyEnv = map[string]string{
	EmailTemplatesDB:   "NOTION_EMAIL_TEMPLATES_DB_ID",
	SequenceDB:         "NOTION_EMAIL_SEQUENCE_DB_ID",
	BusinessXDB:        "NOTION_BUSINESSX_DB_ID",
	AnalyticsDB:        "NOTION_EMAIL_ANALYTICS_DB_ID",
	CustomerProjectsDB: "NOTION_CUSTOMER_PROJECTS_DB_ID",
	ContactsDB:         "NOTION_CONTACTS_DB_ID",
	BXTemplatesDB:      "NOTION_TEMPLATES_DB_ID",
}

// LegacySchemas declares the databases of legacy §6.1-6.6 with their
// exact property names and types, keyed by the ids above. Where the legacy
// system sets no title, a "Name" title stands in for the one every Notion
// database has.
func LegacySchemas() map[string]Schema {
	return map[string]Schema{
		EmailTemplatesDB:   emailTemplatesSchema(),
		SequenceDB:         sequenceSchema(),
		BusinessXDB:        businessXSchema(),
		AnalyticsDB:        analyticsSchema(),
		CustomerProjectsDB: customerProjectsSchema(),
		ContactsDB:         contactsSchema(),
		BXTemplatesDB:      bxTemplatesSchema(),
	}
}

// §6.3, §4.1.
func emailTemplatesSchema() Schema {
	return Schema{
		"Template Name":         "title",
		"Subject Line":          "rich_text",
		"Email Body HTML":       "rich_text",
		"Email Body Plain Text": "rich_text",
		"Email Number":          "number",
		"Status":                "select",
		"Template Type":         "select",
		"Segment":               "multi_select",
	}
}

// §6.2.
func sequenceSchema() Schema {
	s := Schema{
		"Name":                 "title",
		"Email":                "email",
		"First Name":           "rich_text",
		"Business Name":        "rich_text",
		"Campaign":             "select",
		"Segment":              "select",
		"Assessment Score":     "number",
		"Red Systems":          "number",
		"Orange Systems":       "number",
		"Yellow Systems":       "number",
		"Green Systems":        "number",
		"Signup Date":          "date",
		"Assessment Completed": "checkbox",
		"Sequence Completed":   "checkbox",
		"Template Type":        "select",
		"Sequence Created":     "date",
		"Calendly Event URI":   "rich_text",
		"Scheduled Time":       "rich_text",
		"Event Type":           "rich_text",
		"Call Date":            "rich_text",
		"Call Outcome":         "rich_text",
		"Follow-Up Priority":   "rich_text",
		"Call Notes":           "rich_text",
		"Objections":           "rich_text",
		"Payment Amount":       "number",
		"Payment Date":         "date",
		"Package Type":         "rich_text",
		"Salon Address":        "rich_text",
		"Observation Dates":    "rich_text",
		"Start Date":           "date",
	}
	for n := 1; n <= 7; n++ {
		s[fmt.Sprintf("Email %d Sent", n)] = "date"
	}
	return s
}

// §6.1: note the lower-case `email` and the `first_name` title.
func businessXSchema() Schema {
	s := Schema{
		"email":                     "email",
		"first_name":                "title",
		"Assessment Score":          "number",
		"Segment":                   "select",
		"Christmas Campaign Status": "select",
		"Booking Status":            "select",
		"Diagnostic Call Date":      "date",
		"Phase":                     "select",
	}
	for n := 1; n <= 5; n++ {
		s[fmt.Sprintf("Christmas Email %d Sent", n)] = "checkbox"
		s[fmt.Sprintf("Christmas Email %d Date", n)] = "date"
	}
	return s
}

// §6.4.
func analyticsSchema() Schema {
	return Schema{
		"Name":            "title",
		"Email":           "email",
		"Template ID":     "rich_text",
		"Email Number":    "number",
		"Status":          "select",
		"Sent Date":       "date",
		"Campaign":        "select",
		"Resend Email ID": "rich_text",
		"Error Message":   "rich_text",
	}
}

// §6.5.
func customerProjectsSchema() Schema {
	return Schema{
		"Name":                 "title",
		"Email":                "email",
		"Business Name":        "rich_text",
		"Diagnostic Call Date": "date",
		"Next Steps":           "rich_text",
		"Status":               "select",
		"Created Date":         "date",
	}
}

// §6.6: `Email` with a capital E, `Email {n} Sent` are checkboxes here.
func contactsSchema() Schema {
	s := Schema{
		"Email":                "email",
		"Name":                 "title",
		"First Name":           "rich_text",
		"Business Name":        "rich_text",
		"Signup Date":          "date",
		"Signup Source":        "select",
		"Last Signup Date":     "date",
		"Assessment Completed": "checkbox",
		"Red Systems":          "number",
		"Orange Systems":       "number",
		"Yellow Systems":       "number",
		"Green Systems":        "number",
		"Segment":              "select",
		"Assessment Score":     "number",
		"Sequence Complete":    "checkbox",
	}
	for n := 1; n <= 5; n++ {
		s[fmt.Sprintf("Email %d Sent", n)] = "checkbox"
		s[fmt.Sprintf("Email %d Sent Date", n)] = "date"
	}
	return s
}

// §6.3, BusinessX templates.
func bxTemplatesSchema() Schema {
	return Schema{
		"Template Name": "title",
		"Subject":       "rich_text",
		"HTML Body":     "rich_text",
		"Status":        "select",
		"Last Modified": "last_edited_time",
	}
}
