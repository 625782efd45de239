# Benchmark targets; included from the Makefile. `make bench` (Makefile) runs
# the Go benchmarks; the prerequisite below adds the load run of the real
# binary against the FastAPI baseline. BENCHMARKS.md says what each measures.

.PHONY: bench-load bench-compare bench-big bench-smoke

bench: bench-load

bench-load: ## Load run: perfect vs the FastAPI baseline at 500 req/s and at max (about 2 min)
	BENCH_REF=worktree BENCH_OUT=$${BENCH_OUT:-out/bench} ./scripts/bench-compare.sh -only intake

bench-compare: ## Every figure of BENCHMARKS.md, side by side with the baseline (about 15 min)
	./scripts/bench-compare.sh

bench-big: ## Go benchmarks of the store with the 1M-step data file (PERFECT_BENCH_BIG=1)
	PERFECT_BENCH_BIG=1 $(GO) test -run '^$$' -bench . -benchmem ./store/

bench-smoke: ## Every Go benchmark once, as CI runs them
	$(GO) test -run '^$$' -bench . -benchtime=1x ./...
