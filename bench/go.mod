module github.com/hashtrend/hashtrend/bench

go 1.26.0

require (
	github.com/confluentinc/confluent-kafka-go/v2 v2.11.1
	github.com/hashtrend/hashtrend/pkg v0.0.0
)

require (
	github.com/kelseyhightower/envconfig v1.4.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)

replace github.com/hashtrend/hashtrend/pkg => ../pkg
