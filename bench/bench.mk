# Peer benchmarks (issue 8): included from the Makefile. Not part of `make test`.
# QUICK=1 for a smoke-scale run; see bench/peers.sh for the other settings.

.PHONY: bench-peers

bench-peers: ## the peer benchmarks: limit, counter, Kafka Streams, Spark (bench/out/peers.md)
	bench/peers.sh
