# printer targets, included from the top-level Makefile.

.PHONY: tail

tail: ## tail the raw top-hashtags topic as JSON lines, from the beginning
	@cd services/printer && PRINTER_FORMAT=json PRINTER_FROM=beginning PRINTER_OPS_ADDR=$${PRINTER_OPS_ADDR:-off} go run .

.PHONY: printer-outage

printer-outage: ## stop and restart a disposable broker under a running printer (about a minute)
	cd services/printer && go test -tags outage -count=1 -run TestOutlastsTheBrokerGoingAway -v ./internal/app/

.PHONY: page-test

page-test: ## the live page in headless Chromium against a running pipeline (installs chromium with apt-get)
	deploy/page-test.sh
