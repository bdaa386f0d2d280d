# Longer ingest trials, kept out of `make test` (which runs a shorter
# version of each). Include from the root Makefile. The recipe is named
# broker/ingest-trials: the Makefile's BROKER_TARGETS rule runs it with a
# broker at KAFKA_BROKERS, starting the local one when none answers.
#
#   make ingest-trials [INGEST_RUNS=1]   the exactly-once fault trials at full scale

INGEST_RUNS ?= 1

.PHONY: ingest-trials

broker/ingest-trials: ## ingest's fault trials at full scale: a 60,000-post replay SIGKILLed 6 times, a broker SIGKILLed for 70 s, SIGTERM in an outage
	cd services/ingest && INGEST_TRIALS=1 REQUIRE_KAFKA=1 go test -count=$(INGEST_RUNS) -timeout 60m -v \
	  -run 'TestAReplaySIGKILLed|TestABrokerKilled|TestSIGTERMDuringAnOutage|TestBrokerOutageDuringARun' ./ ./internal/app/ \
	  2>&1 | grep -vE '^\s+time=' | grep -E '^(=== RUN|--- |    |PASS|FAIL|ok)'
