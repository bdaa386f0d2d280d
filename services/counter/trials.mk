# Longer counter trials, kept out of `make test`. Include from the root
# Makefile (include services/counter/trials.mk). Each recipe is named
# broker/<target>: the Makefile's BROKER_TARGETS rule runs it with a broker
# at KAFKA_BROKERS, starting the local one when none answers.
#
#   make counter-crash-trials [TRIALS=10]   every SIGKILL point TRIALS times, then
#                                           the failover gaps, TRIALS failovers of each kind
#   make counter-bench                      throughput, restore, latency and dedupe figures,
#                                           rank's table against a plain map (BENCH_TAGS_10M=1: 10,000,000 tags too)
#   make counter-trending-trials [TRIALS=10] the trending crash and replay trials
#   make counter-trending-bench             trending on against off, bytes per tag-bucket
#   make counter-facets-bench               facets on against off, bytes per hashtag and per tag-bucket with facets

TRIALS ?= 10

.PHONY: counter-crash-trials counter-failover-trials counter-bench

broker/counter-crash-trials: ## kill the counter at every crash point TRIALS times and check exact totals
	cd services/counter && REQUIRE_KAFKA=1 go test -count=$(TRIALS) -timeout 120m -run 'TestCrash|TestScaleOutAndIn' .
	$(MAKE) --no-print-directory counter-failover-trials

broker/counter-failover-trials: ## snapshot gaps across SIGKILL+restart, standby takeover, broker SIGKILL (TRIALS each: min/median/max)
	set -o pipefail; cd services/counter && REQUIRE_KAFKA=1 FAILOVER_TRIALS=$(TRIALS) go test -tags bench -count=1 -timeout 120m -run 'TestFailoverGaps' -v . 2>&1 | grep -E '^(=== RUN|--- |    --- |PASS|FAIL|ok)|_test.go:[0-9]+: bench '

broker/counter-bench: ## counter benchmarks: tally vs a raw consumer, restore of 1,000,000 hashtags, latency, dedupe on vs off
	set -o pipefail; cd services/counter && REQUIRE_KAFKA=1 go test -tags bench -count=1 -timeout 60m -run 'TestBench' -v . 2>&1 | grep -E '^(=== RUN|--- |    --- |PASS|FAIL|ok)|_test.go:[0-9]+: bench '
	cd services/counter && go test -run '^$$' -bench 'Table|DecodeTotal' -benchmem ./internal/rank ./internal/state

.PHONY: counter-trending-trials counter-trending-bench

broker/counter-trending-trials: ## the trending crash and replay-speed trials TRIALS times
	cd services/counter && REQUIRE_KAFKA=1 go test -count=$(TRIALS) -timeout 120m -run 'TestTrending' .

broker/counter-trending-bench: ## throughput with trending on against off, and memory per tag-bucket at 1,000,000 tags
	set -o pipefail; cd services/counter && REQUIRE_KAFKA=1 go test -tags bench -count=1 -timeout 60m -run 'TestBenchTrending' -v . 2>&1 | grep -E '^(=== RUN|--- |    --- |PASS|FAIL|ok)|_test.go:[0-9]+: bench '
	cd services/counter && go test -run '^$$' -bench 'Memory' -benchtime 1x ./internal/trend

.PHONY: counter-facets-bench

broker/counter-facets-bench: ## throughput with facets on against off at 20 languages x 4 networks, and memory per hashtag with facets
	set -o pipefail; cd services/counter && REQUIRE_KAFKA=1 go test -tags bench -count=1 -timeout 60m -run 'TestBenchFacets' -v . 2>&1 | grep -E '^(=== RUN|--- |    --- |PASS|FAIL|ok)|_test.go:[0-9]+: bench '
	cd services/counter && go test -run '^$$' -bench 'Facet.*Memory' -benchtime 1x ./internal/rank
