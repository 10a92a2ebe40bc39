package abci

import (
	"context"
	"log/slog"

	cmtlog "github.com/cometbft/cometbft/libs/log"
)

// SlogLogger is CometBFT's logger writing to l: its Debug and Info (one line per step of
// every round) at slog's Debug, its Error at Warn (peers coming and going are "errors" to it).
func SlogLogger(l *slog.Logger) cmtlog.Logger { return slogLogger{l} }

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Debug(msg string, kv ...any) {
	s.l.Log(context.Background(), slog.LevelDebug, msg, kv...)
}
func (s slogLogger) Info(msg string, kv ...any) {
	s.l.Log(context.Background(), slog.LevelDebug, msg, kv...)
}
func (s slogLogger) Error(msg string, kv ...any) {
	s.l.Log(context.Background(), slog.LevelWarn, msg, kv...)
}
func (s slogLogger) With(kv ...any) cmtlog.Logger { return slogLogger{s.l.With(kv...)} }
