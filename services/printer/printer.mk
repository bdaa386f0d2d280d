# printer targets, included from the top-level Makefile. A recipe named
# broker/<target> runs with a broker at KAFKA_BROKERS: the Makefile's
# BROKER_TARGETS rule starts the local one when none answers.

.PHONY: tail

tail: ## tail the raw top-hashtags topic as JSON lines, from the beginning
	@cd services/printer && PRINTER_FORMAT=json PRINTER_FROM=beginning PRINTER_OPS_ADDR=$${PRINTER_OPS_ADDR:-off} go run .

.PHONY: printer-outage

broker/printer-outage: ## stop and restart a disposable broker under a running printer (about a minute)
	cd services/printer && REQUIRE_KAFKA=1 go test -tags outage -count=1 -run TestOutlastsTheBrokerGoingAway -v ./internal/app/

.PHONY: page-test

page-test: ## the live page in headless Chromium against a running pipeline (installs chromium with apt-get)
	deploy/page-test.sh
