package main

import (
	"perfect/internal/config"
	"perfect/internal/templates"
)

// checkSource is the template source serve would use: Notion's when np is
// not nil.
func checkSource(cfg *config.Config, np *notionParts) (templates.Source, string, error) {
	return templateSourceFor(cfg, np)
}
