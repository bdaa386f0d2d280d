// Package deploy holds no code of its own: its tests check the deployment
// files beside it (docker-compose.yml, the Prometheus and Grafana
// provisioning) against the services they describe, and run the pipeline
// end to end the way a new user does with make run.
package deploy
