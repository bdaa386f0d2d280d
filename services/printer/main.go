// Command printer renders the top-hashtags snapshots as a console table or JSON lines.
// It is configured by environment variables only; `printer -h` lists them.
package main

import (
	"context"
	"log/slog"

	"github.com/hashtrend/hashtrend/pkg/service"
	"github.com/hashtrend/hashtrend/services/printer/internal/app"
)

func main() {
	var cfg app.Config
	service.Main("printer", &cfg, func(ctx context.Context, log *slog.Logger) error {
		return app.Run(ctx, cfg, log)
	})
}
