# Reliability proofs (RELIABILITY.md); included from the Makefile.
# Each target runs tests that can fail and prints the figures the
# RELIABILITY.md table quotes.

CRASH_KILLS ?= 60
SOAK_CONTACTS ?= 10000

.PHONY: crash-test soak faults reliability

crash-test: ## SIGKILL the real binary CRASH_KILLS times under load (default 60): nothing lost, sent or tracked twice
	CRASH_KILLS=$(CRASH_KILLS) $(GO) test -count=1 -timeout 20m -run '^TestCrash_' -v ./cmd/perfect/

soak: ## A simulated month for SOAK_CONTACTS contacts (default 10,000): memory and goroutines flat, each email sent once
	SOAK_CONTACTS=$(SOAK_CONTACTS) $(GO) test -count=1 -timeout 20m -run '^TestSoak_' -v ./internal/engine/

faults: ## Provider, long-outage and storage fault tests, verbose
	$(GO) test -count=1 -v \
		-run '^(TestFaults_|TestBatch_|TestDB_ClaimNext_Attempted|TestDB_FullFile|TestEngine_PermanentError|TestClient_SendLostResponse|TestE2E_LongOutage|TestE2E_Storage|TestBackend_PrefectDown|TestE2E_NotionOutage)' \
		./store/ ./internal/resend/ ./internal/engine/ ./internal/tracking/ ./internal/prefect/ ./cmd/perfect/

reliability: faults soak crash-test ## Every reliability proof of RELIABILITY.md
