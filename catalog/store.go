// Package catalog reads and writes the products table: the CRUD the API and
// UI use, the seed generator and the CSV import.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/product"
)

// ErrNotFound is returned when no product has the id.
var ErrNotFound = errors.New("product not found")

// ErrConflict is returned when an update names a version that is no longer
// current: somebody else changed the row first.
var ErrConflict = errors.New("product was changed by someone else")

// Store is the products table.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Columns selects a product; Scan reads them in this order.
const Columns = `id, sku, name, description, (price * 100)::bigint, category, created_at, updated_at, version`

// Scan reads one row selected with Columns, then any extra columns into
// extra (for packages that join the products table with their own).
func Scan(row pgx.Row, extra ...any) (product.Product, error) { return scan(row, extra...) }

// scan reads Columns and then any extra columns into extra.
func scan(row pgx.Row, extra ...any) (product.Product, error) {
	var p product.Product
	var cents int64
	dest := append([]any{&p.ID, &p.SKU, &p.Name, &p.Description, &cents, &p.Category, &p.CreatedAt, &p.UpdatedAt, &p.Version}, extra...)
	err := row.Scan(dest...)
	p.Price = product.Price(cents)
	return p, err
}

// ListOptions pages through the table.
type ListOptions struct {
	Offset   int
	Limit    int
	Category string
	// MinPrice and MaxPrice bound the price when set.
	MinPrice, MaxPrice *float64
	// Sort is one of ListSorts; empty is by id.
	Sort string
}

// ListSorts are the orders List accepts, each with its SQL; every one ends
// with id so that pages are stable.
var listSorts = map[string]string{
	"":          "id",
	"id":        "id",
	"newest":    "id DESC",
	"name":      "name, id",
	"-name":     "name DESC, id",
	"price":     "price, id",
	"-price":    "price DESC, id",
	"category":  "category, name, id",
	"-category": "category DESC, name, id",
	"sku":       "sku, id",
	"-sku":      "sku DESC, id",
}

// ValidSort reports whether List accepts sort.
func ValidSort(sort string) bool { _, ok := listSorts[sort]; return ok }

// List returns a page of products ordered by id, and the total count.
func (s *Store) List(ctx context.Context, o ListOptions) ([]product.Product, int, error) {
	if o.Limit <= 0 {
		o.Limit = 50
	}
	order, ok := listSorts[o.Sort]
	if !ok {
		return nil, 0, fmt.Errorf("list products: unknown sort %q", o.Sort)
	}
	var conds []string
	var args []any
	if o.Category != "" {
		args = append(args, o.Category)
		conds = append(conds, fmt.Sprintf("category = $%d", len(args)))
	}
	if o.MinPrice != nil {
		args = append(args, *o.MinPrice)
		conds = append(conds, fmt.Sprintf("price >= $%d::numeric", len(args)))
	}
	if o.MaxPrice != nil {
		args = append(args, *o.MaxPrice)
		conds = append(conds, fmt.Sprintf("price <= $%d::numeric", len(args)))
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	n := len(args)
	rows, err := s.pool.Query(ctx, `SELECT `+Columns+`, count(*) OVER () FROM products `+where+
		fmt.Sprintf(` ORDER BY %s LIMIT $%d OFFSET $%d`, order, n+1, n+2), append(args, o.Limit, o.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list products: %w", err)
	}
	defer rows.Close()
	var out []product.Product
	total := 0
	for rows.Next() {
		p, err := scan(rows, &total)
		if err != nil {
			return nil, 0, fmt.Errorf("list products: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list products: %w", err)
	}
	if len(out) == 0 && o.Offset > 0 {
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM products `+where, args...).Scan(&total)
		if err != nil {
			return nil, 0, fmt.Errorf("count products: %w", err)
		}
	}
	return out, total, nil
}

// Get returns one product.
func (s *Store) Get(ctx context.Context, id int64) (product.Product, error) {
	p, err := Scan(s.pool.QueryRow(ctx, `SELECT `+Columns+` FROM products WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("get product %d: %w", id, err)
	}
	return p, nil
}

// GetMany returns the products among ids that exist, keyed by id, in one query.
func (s *Store) GetMany(ctx context.Context, ids []int64) (map[int64]product.Product, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+Columns+` FROM products WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("get %d products: %w", len(ids), err)
	}
	defer rows.Close()
	out := make(map[int64]product.Product, len(ids))
	for rows.Next() {
		p, err := Scan(rows)
		if err != nil {
			return nil, fmt.Errorf("get %d products: %w", len(ids), err)
		}
		out[p.ID] = p
	}
	return out, rows.Err()
}

// FindExact returns the products whose SKU is text (as typed or in upper
// case, so both use the unique index) or, when text is a whole number, whose
// id it is: the search box pins these first.
func (s *Store) FindExact(ctx context.Context, text string) ([]product.Product, error) {
	var id int64
	if n, err := strconv.ParseInt(text, 10, 64); err == nil && n > 0 {
		id = n
	}
	rows, err := s.pool.Query(ctx, `SELECT `+Columns+` FROM products WHERE sku = $1 OR sku = upper($1) OR id = $2 ORDER BY id`, text, id)
	if err != nil {
		return nil, fmt.Errorf("find products by sku or id %q: %w", text, err)
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (product.Product, error) { return Scan(r) })
	if err != nil {
		return nil, fmt.Errorf("find products by sku or id %q: %w", text, err)
	}
	return ps, nil
}

// Create validates and inserts a product.
func (s *Store) Create(ctx context.Context, p product.Product) (product.Product, error) {
	p.Normalize()
	if err := p.Validate(); err != nil {
		return p, err
	}
	created, err := Scan(s.pool.QueryRow(ctx, `INSERT INTO products (sku, name, description, price, category)
		VALUES ($1, $2, $3, $4::numeric, $5) RETURNING `+Columns, p.SKU, p.Name, p.Description, p.Price.String(), p.Category))
	if err != nil {
		return p, constraintError("create product", err)
	}
	return created, nil
}

// Update validates and replaces a product's fields. When p.Version is not
// zero it must be the current version (optimistic locking). An invalid edit
// changes nothing.
func (s *Store) Update(ctx context.Context, p product.Product) (product.Product, error) {
	p.Normalize()
	if err := p.Validate(); err != nil {
		return p, err
	}
	updated, err := Scan(s.pool.QueryRow(ctx, `UPDATE products SET sku = $2, name = $3, description = $4, price = $5::numeric, category = $6
		WHERE id = $1 AND ($7 = 0 OR version = $7) RETURNING `+Columns,
		p.ID, p.SKU, p.Name, p.Description, p.Price.String(), p.Category, p.Version))
	if errors.Is(err, pgx.ErrNoRows) {
		if _, gerr := s.Get(ctx, p.ID); gerr != nil {
			return p, gerr
		}
		return p, ErrConflict
	}
	if err != nil {
		return p, constraintError(fmt.Sprintf("update product %d", p.ID), err)
	}
	return updated, nil
}

// Delete removes a product.
func (s *Store) Delete(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM products WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete product %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// Count counts the products.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM products`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count products: %w", err)
	}
	return n, nil
}

// Categories lists the categories in use, for filters.
func (s *Store) Categories(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT category FROM products WHERE category <> '' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Seed and ImportCSV COPY products into a temporary staging table and merge
// it into products with one INSERT ... ON CONFLICT (sku), since COPY itself
// can neither skip nor update a row whose SKU exists. ord keeps the input
// order (and, for an import, the line the row came from).
var stageColumns = []string{"ord", "sku", "name", "description", "price_cents", "category"}

// createStage creates the staging table name in tx; it is dropped at commit.
func createStage(ctx context.Context, tx pgx.Tx, name string) error {
	_, err := tx.Exec(ctx, `CREATE TEMP TABLE `+name+` (
		ord bigint, sku text, name text, description text, price_cents bigint, category text
	) ON COMMIT DROP`)
	if err != nil {
		return fmt.Errorf("create staging table: %w", err)
	}
	return nil
}

// stageRow is p as a row of stageColumns.
func stageRow(ord int, p product.Product) []any {
	return []any{int64(ord), p.SKU, p.Name, p.Description, int64(p.Price), p.Category}
}

// constraintError turns a unique or check violation into a field error.
func constraintError(action string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505" && strings.Contains(pgErr.ConstraintName, "sku"):
			return product.ValidationError{{Field: "sku", Message: "is already used by another product"}}
		case pgErr.Code == "23514" && strings.Contains(pgErr.ConstraintName, "price"):
			return product.ValidationError{{Field: "price", Message: "must not be negative"}}
		}
	}
	return fmt.Errorf("%s: %w", action, err)
}
