package indexstate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Outage is a component emu cannot write through for any product: the
// vector store or the embedder is down, refuses the credentials or lost its
// index. Emu holds the affected messages until it heals.
type Outage struct {
	Component string    `json:"component"`
	Since     time.Time `json:"since"`
	Error     string    `json:"error"`
}

// Outage components.
const (
	ComponentVectorStore = "vector_store"
	ComponentEmbedder    = "embedder"
)

// OutageFresh is how long an outage stays reported after emu last saw it
// fail: emu refreshes it at least every backoff (30 s at most), and an
// outage nobody refreshes (every emu stopped) is no longer known to last.
const OutageFresh = 2 * time.Minute

// RecordOutage notes that component failed with msg now; since keeps the
// start of an outage already recorded.
func (s *Store) RecordOutage(ctx context.Context, component, msg string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO index_outages (model, component, error) VALUES ($1, $2, $3)
		ON CONFLICT (model, component) DO UPDATE SET seen_at = now(), error = excluded.error,
			since = CASE WHEN index_outages.seen_at < now() - $4::interval THEN now() ELSE index_outages.since END`,
		s.model, component, msg, OutageFresh)
	if err != nil {
		return fmt.Errorf("record %s outage: %w", component, err)
	}
	return nil
}

// EndOutage notes that component serves again.
func (s *Store) EndOutage(ctx context.Context, component string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM index_outages WHERE model = $1 AND component = $2`, s.model, component); err != nil {
		return fmt.Errorf("end %s outage: %w", component, err)
	}
	return nil
}

// CurrentOutage returns the oldest outage seen within OutageFresh, or nil.
func (s *Store) CurrentOutage(ctx context.Context) (*Outage, error) {
	var o Outage
	err := s.db.QueryRow(ctx, `SELECT component, since, error FROM index_outages
		WHERE model = $1 AND seen_at > now() - $2::interval ORDER BY since, component LIMIT 1`,
		s.model, OutageFresh).Scan(&o.Component, &o.Since, &o.Error)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read current outage: %w", err)
	}
	return &o, nil
}
