module perfect

go 1.26.8

require (
	github.com/alecthomas/kong v1.17.0 // indirect
	github.com/caarlos0/env/v11 v11.4.2 // indirect
	github.com/go-co-op/gocron/v2 v2.19.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jomei/notionapi v1.13.3 // indirect
	github.com/jonboulle/clockwork v0.5.0 // indirect
	github.com/oklog/ulid/v2 v2.1.2 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/resend/resend-go/v2 v2.28.0 // indirect
	github.com/robfig/cron/v3 v3.0.1 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	golang.org/x/net v0.63.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)
