// Command perfect receives the email-sequence webhooks of the business and
// sends every sequence itself, from one bbolt file.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// CLI is the command line of perfect.
type CLI struct {
	Serve       ServeCmd       `cmd:"" default:"1" help:"Run the webhook server and the scheduler."`
	Healthcheck HealthcheckCmd `cmd:"" help:"Exit 0 when the local server's /health answers 200 (for containers)."`
	Queue       QueueCmd       `cmd:"" help:"Inspect and change planned emails."`
	Templates   TemplatesCmd   `cmd:"" help:"Inspect email templates."`
	Store       StoreCmd       `cmd:"" help:"Check or back up the data file."`
	Suppress    SuppressCmd    `cmd:"" help:"Manage the suppression list (unsubscribes, bounces, complaints)."`
	Prefect     PrefectCmd     `cmd:"" help:"Prefect compatibility: check, runs, deployments."`
	Version     VersionCmd     `cmd:"" help:"Print the version."`
}

// env carries the process environment and output streams to commands, so
// tests can run them in-process.
type env struct {
	ctx     context.Context
	environ []string
	stdout  io.Writer
	stderr  io.Writer
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, "perfect: "+ee.msg)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "perfect: "+err.Error())
		os.Exit(1)
	}
}

// exitError ends the process with a code and an optional one-line message.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("perfect"),
		kong.Description("Email sequences from webhooks: one binary, one data file."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitError{code: code}) }),
		kong.UsageOnError(),
	)
	if err != nil {
		return err
	}
	kctx, err := parseArgs(parser, args)
	if err != nil {
		return err
	}
	return kctx.Run(&env{ctx: ctx, environ: environ, stdout: stdout, stderr: stderr})
}

// parseArgs runs kong's parser, turning its exit on --help into an error.
func parseArgs(p *kong.Kong, args []string) (kctx *kong.Context, err error) {
	defer func() {
		if v := recover(); v != nil {
			ee, ok := v.(exitError)
			if !ok {
				panic(v)
			}
			kctx, err = nil, ee
		}
	}()
	kctx, err = p.Parse(args)
	if err != nil {
		return nil, exitError{code: 2, msg: err.Error()}
	}
	return kctx, nil
}

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (VersionCmd) Run(e *env) error {
	_, err := fmt.Fprintln(e.stdout, version)
	return err
}
