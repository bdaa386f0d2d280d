// Command ingest reads posts from a source and writes each to the tweets topic.
// It is configured by environment variables only; `ingest -h` lists them.
package main

import (
	"context"
	"log/slog"

	"github.com/hashtrend/hashtrend/pkg/service"
	"github.com/hashtrend/hashtrend/services/ingest/internal/app"
)

func main() {
	var cfg app.Config
	service.Main("ingest", &cfg, func(ctx context.Context, log *slog.Logger) error {
		return app.Run(ctx, cfg, log)
	})
}
