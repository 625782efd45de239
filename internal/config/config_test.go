package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"perfect/internal/config"
)

func TestLoad_Defaults(t *testing.T) {
	c, err := config.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8000 || c.DataFile() != filepath.Join("data", "perfect.db") || c.ResendRate != 2 ||
		c.Testing() || c.NotionEnabled() || c.TemplateTTL != 5*time.Minute || c.BoltTimeout != 10*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
	if !c.Lifecycle.BookingCancelsNurture || c.BaseURL() != "http://localhost:8000" {
		t.Fatalf("lifecycle %+v base %s", c.Lifecycle, c.BaseURL())
	}
}

func TestLoad_TestingModeLegacyRule(t *testing.T) {
	for raw, want := range map[string]bool{"true": true, "TRUE": true, " True ": true, "1": false, "yes": false, "false": false} {
		c, err := config.Load([]string{"TESTING_MODE=" + raw})
		if err != nil || c.Testing() != want || c.TestingRaw != raw {
			t.Errorf("TESTING_MODE=%q: testing %v raw %q err %v", raw, c.Testing(), c.TestingRaw, err)
		}
	}
}

func TestLoad_FileVariables(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	if err := os.WriteFile(path, []byte("re_from_file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load([]string{"RESEND_API_KEY_FILE=" + path, "SOMETHING_ELSE_FILE=/nope"})
	if err != nil || c.ResendAPIKey != "re_from_file" {
		t.Fatalf("key %q err %v", c.ResendAPIKey, err)
	}
	c, err = config.Load([]string{"RESEND_API_KEY=direct", "RESEND_API_KEY_FILE=" + path})
	if err != nil || c.ResendAPIKey != "direct" {
		t.Fatalf("the variable should win over its file: %q %v", c.ResendAPIKey, err)
	}
	if _, err := config.Load([]string{"NOTION_TOKEN_FILE=" + filepath.Join(dir, "missing")}); err == nil ||
		!strings.Contains(err.Error(), "NOTION_TOKEN_FILE") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestLoad_BadValuesNameTheVariable(t *testing.T) {
	tests := []struct{ env, name string }{
		{"PORT=99999", "PORT"},
		{"PORT=abc", "PORT"},
		{"RESEND_RATE_LIMIT=0", "RESEND_RATE_LIMIT"},
		{"RESEND_BASE_URL=ftp://x", "RESEND_BASE_URL"},
		{"LOG_FORMAT=xml", "LOG_FORMAT"},
		{"BOLT_OPEN_TIMEOUT=soon", "BOLT_OPEN_TIMEOUT"},
		{"CAMPAIGN_DEADLINE=next friday", "CAMPAIGN_DEADLINE"},
		{"DEFAULT_TIMEZONE=Mars/Base", "DEFAULT_TIMEZONE"},
		{"SEND_WINDOWS=christmas-signup-handler=8-20", "SEND_WINDOWS"},
		{"SEND_WINDOWS=nope=08:00-20:00", "SEND_WINDOWS"},
		{"MAX_LATENESS=christmas-onboarding-handler=1h", "MAX_LATENESS"},
		{"MAX_LATENESS=nope=1h", "MAX_LATENESS"},
		{"MAX_BODY_BYTES=10", "MAX_BODY_BYTES"},
		{"LOG_LEVEL=loud", "LOG_LEVEL"},
		{"SEND_MAX_ATTEMPTS=0", "SEND_MAX_ATTEMPTS"},
		{"UNSUBSCRIBE_TOKEN_TTL=-5h", "UNSUBSCRIBE_TOKEN_TTL"},
		{"EMAIL_FROM=notanemail", "EMAIL_FROM"},
		{"EMAIL_REPLY_TO=nope", "EMAIL_REPLY_TO"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			_, err := config.Load([]string{tt.env})
			if err == nil || !strings.Contains(err.Error(), tt.name) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line naming %s", err, tt.name)
			}
		})
	}
}

func TestConfig_LatenessAndWindows(t *testing.T) {
	c, err := config.Load([]string{"MAX_LATENESS=6h", "SEND_WINDOWS=christmas-signup-handler=08:00-20:00"})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := c.Lateness()
	if l["christmas-signup-handler"] != 6*time.Hour || l["christmas-noshow-recovery-handler"] != 6*time.Hour {
		t.Fatalf("lateness %v", l)
	}
	if _, ok := l["christmas-onboarding-handler"]; ok {
		t.Fatalf("onboarding got a lateness: %v", l)
	}
	c, _ = config.Load([]string{"MAX_LATENESS=christmas-precall-prep=30m,christmas-signup-handler=0s"})
	l, _ = c.Lateness()
	if l["christmas-precall-prep"] != 30*time.Minute || l["christmas-signup-handler"] != 0 || len(l) != 2 {
		t.Fatalf("per-flow lateness %v", l)
	}
	w, _ := c.Windows()
	if len(w) != 0 {
		t.Fatalf("windows %v", w)
	}
}
