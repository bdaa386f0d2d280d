module github.com/hashtrend/hashtrend/deploy

go 1.26

require (
	github.com/compose-spec/compose-go/v2 v2.16.2 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
