# hashtrend: build, test and run the pipeline. `make help` lists the targets.

SHELL := /bin/bash
MODULES := pkg services/ingest services/counter services/printer deploy bench
SERVICES := ingest counter printer
KAFKA_BROKERS ?= 127.0.0.1:9092
export KAFKA_BROKERS
export CGO_ENABLED := 1
GOTEST_FLAGS ?= -count=1 -timeout 20m
# The smoke run counts executions rather than seconds: with a duration,
# Go 1.26's fuzz coordinator can report "context deadline exceeded" as a
# failure at the deadline on a busy machine (go.dev/issue/75804, fixed in
# Go 1.27), without any failing input.
FUZZTIME ?= 100000x
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0

.PHONY: bench bench-kafka compose-test help build run run-ingest run-counter run-printer test unit fuzz-smoke fuzz lint fmt vet clean kafka-up kafka-down kafka-status kafka-log kafka-fetch

help: ## list the targets
	@grep -hE '^(broker/)?[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's|^broker/||' | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

BIN_DIR ?= $(CURDIR)/bin

build: ## build the three services into bin/
	@mkdir -p $(BIN_DIR)
	@for s in $(SERVICES); do (cd services/$$s && go build -o $(BIN_DIR)/$$s .) || exit 1; done

run: ## the whole pipeline: broker, counter, ingest (synthetic), printer in the foreground
	@deploy/run.sh

run-ingest: build ## ingest alone against a running broker (INGEST_* variables apply)
	$(BIN_DIR)/ingest

run-counter: build ## counter alone against a running broker
	$(BIN_DIR)/counter

run-printer: build ## printer alone against a running broker
	$(BIN_DIR)/printer

test: ## run every module's tests against a real broker (started here when none answers)
	deploy/kafka/with-broker.sh $(MAKE) --no-print-directory unit fuzz-smoke

unit:
	@rc=0; for m in $(MODULES); do (cd $$m && go test $(GOTEST_FLAGS) ./...) || rc=1; done; exit $$rc

compose-test: ## docker-compose.yml run on a Docker engine of its own, each step asserted (root; deploy/compose-test)
	deploy/compose-test/compose-test.sh

# Every fuzz target runs for $(FUZZTIME) on top of its seed corpus.
fuzz-smoke:
	@for m in $(MODULES); do \
	  for pkg in $$(cd $$m && go list ./...); do \
	    for f in $$(cd $$m && go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	      echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	      (cd $$m && go test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg) || exit 1; \
	    done; \
	  done; \
	done

bench: ## Go benchmarks: decoding and extraction, replay into Kafka, the counter (see docs/benchmarks.md)
	cd pkg && go test -run '^$$' -bench . -benchmem ./wire ./hashtag ./post
	$(MAKE) --no-print-directory bench-kafka

broker/bench-kafka:
	cd services/ingest && REQUIRE_KAFKA=1 go test -run '^$$' -bench Replay -benchtime 3x ./internal/app/
	$(MAKE) --no-print-directory counter-bench

fuzz: ## run every fuzz target for 2 minutes
	$(MAKE) --no-print-directory fuzz-smoke FUZZTIME=2m

vet:
	@for m in $(MODULES); do (cd $$m && go vet ./...) || exit 1; done

lint: vet ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && go run $(STATICCHECK) ./...) || exit 1; done

fmt: ## gofmt every module
	gofmt -w $(MODULES)

clean: ## remove build output and the local broker's data (not its jars)
	rm -rf bin run deploy/kafka/data

kafka-fetch: ## fetch the Apache Kafka jars from Maven Central
	deploy/kafka/kafka.sh fetch

kafka-up: ## start the local single-node KRaft broker on 127.0.0.1:9092
	deploy/kafka/kafka.sh up

kafka-down: ## stop the local broker
	deploy/kafka/kafka.sh down

kafka-status: ## is the local broker running?
	deploy/kafka/kafka.sh status

kafka-log: ## print the local broker's log
	deploy/kafka/kafka.sh log

# The targets that talk to the broker at KAFKA_BROKERS start the local one
# when none answers there and stop it after, as `make test` does. Each is
# listed here and its recipe is written as broker/<target>; the rule below
# runs that under with-broker.sh. A broker target that makes another finds
# the broker answering, so one broker serves the whole run. (bench-peers
# and page-test start brokers of their own.) `make -n` runs a recipe that
# calls $(MAKE), so under -n the wrapper is left out: a dry run prints the
# recipes and starts no broker.
BROKER_TARGETS := bench-kafka counter-crash-trials counter-failover-trials counter-bench \
  counter-trending-trials counter-trending-bench counter-facets-bench ingest-trials printer-outage
WITH_BROKER = $(if $(findstring n,$(firstword -$(MAKEFLAGS))),,deploy/kafka/with-broker.sh)

.PHONY: $(BROKER_TARGETS) $(addprefix broker/,$(BROKER_TARGETS))

$(BROKER_TARGETS): %:
	$(WITH_BROKER) $(MAKE) --no-print-directory broker/$*

include services/printer/printer.mk
include services/counter/trials.mk
include services/ingest/trials.mk
include bench/bench.mk
