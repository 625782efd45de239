package main

import (
	"perfect/internal/config"
	"perfect/internal/templates"
)

// checkSource is the template source serve would use.
func checkSource(cfg *config.Config) (templates.Source, string, error) {
	return templateSource(cfg)
}
