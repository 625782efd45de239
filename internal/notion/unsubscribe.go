package notion

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jomei/notionapi"
)

// contactDBs are the contacts databases and their email property.
var contactDBs = []struct{ env, emailProp string }{
	{envBusinessX, "email"},
	{envContacts, "Email"},
}

// applyUnsubscribe sets the unsubscribe property on every contact page of
// the address, in each configured contacts database whose pages have it.
// Finding contacts but none with the property is a configuration error:
// the op is refused as invalid, to be shown rather than retried.
func (c *Client) applyUnsubscribe(ctx context.Context, o Unsubscribe) error {
	configured, found, updated := 0, 0, 0
	for _, target := range contactDBs {
		db := c.dbID(target.env)
		if db == "" {
			continue
		}
		configured++
		pages, err := c.query(ctx, db, emailFilter(target.emailProp, o.Email))
		if err != nil {
			return err
		}
		for i := range pages {
			found++
			value, ok, err := unsubscribeValue(&pages[i], o)
			if err != nil {
				return fmt.Errorf("%s: %w", target.env, err)
			}
			if !ok {
				continue
			}
			if err := c.update(ctx, pages[i].ID, notionapi.Properties{o.Property: value}); err != nil {
				return err
			}
			updated++
			c.logApplied(ctx, o.Kind(), o.Email, string(pages[i].ID), "updated")
		}
	}
	switch {
	case configured == 0:
		return fmt.Errorf("%w: %s or %s not set", ErrNotConfigured, envBusinessX, envContacts)
	case found > 0 && updated == 0:
		return fmt.Errorf("%w: no contact page of the address has a property %q", ErrInvalidOp, o.Property)
	case found == 0:
		c.logger.InfoContext(ctx, "notion contact not found, unsubscribe not recorded",
			slog.String("kind", o.Kind()), slog.String("email", maskEmail(o.Email)))
	}
	return nil
}

// unsubscribeValue is the value of the unsubscribe property for page's
// type; ok is false when the page has no such property.
func unsubscribeValue(page *notionapi.Page, o Unsubscribe) (notionapi.Property, bool, error) {
	p, ok := page.Properties[o.Property]
	if !ok {
		return nil, false, nil
	}
	switch t := p.GetType(); t {
	case notionapi.PropertyTypeCheckbox:
		return checkboxProp(true), true, nil
	case notionapi.PropertyTypeSelect:
		return selectProp(UnsubscribedOption), true, nil
	case notionapi.PropertyTypeDate:
		return timeProp(o.At), true, nil
	default:
		return nil, false, fmt.Errorf("%w: property %q is a %s, want a checkbox, select or date",
			ErrInvalidOp, o.Property, t)
	}
}
