// Command counter counts hashtags in fixed windows, exactly once, and publishes top-N snapshots.
// It is configured by environment variables only; `counter -h` lists them.
package main

import (
	"context"
	"log/slog"

	"github.com/hashtrend/hashtrend/pkg/service"
	"github.com/hashtrend/hashtrend/services/counter/internal/app"
)

func main() {
	var cfg app.Config
	service.Main("counter", &cfg, func(ctx context.Context, log *slog.Logger) error {
		return app.Run(ctx, cfg, log)
	})
}
