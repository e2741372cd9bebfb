// Package catalog reads and writes the products table: the CRUD the API and
// UI use, the seed generator and the CSV import.
package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	// After pages by key: only products with an id above it (then Offset
	// usually stays 0). Unlike a deep Offset it costs the same on every page.
	After int64
	// MinPrice and MaxPrice bound the price when set.
	MinPrice, MaxPrice *float64
	// Sort is one of ListSorts; empty is by id.
	Sort string
}

// ExactCountLimit is the largest total List counts exactly: counting more
// rows costs time in proportion to the catalog (a million rows took over a
// second per page). A total above it is the planner's estimate; see
// TotalIsEstimate.
const ExactCountLimit = 10000

// TotalIsEstimate reports whether a total List returned is an estimate.
func TotalIsEstimate(total int) bool { return total > ExactCountLimit }

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

// List returns a page of products in the order asked for, and the total
// count: exact up to ExactCountLimit, estimated above it. After pages by key
// and applies to the id order only.
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
	countWhere, countArgs := "", slices.Clone(args)
	if len(conds) > 0 {
		countWhere = "WHERE " + strings.Join(conds, " AND ")
	}
	if o.After > 0 && (o.Sort == "" || o.Sort == "id") {
		args = append(args, o.After)
		conds = append(conds, fmt.Sprintf("id > $%d", len(args)))
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	n := len(args)
	rows, err := s.pool.Query(ctx, `SELECT `+Columns+` FROM products `+where+
		fmt.Sprintf(` ORDER BY %s LIMIT $%d OFFSET $%d`, order, n+1, n+2), append(args, o.Limit, o.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list products: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (product.Product, error) { return scan(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("list products: %w", err)
	}
	total, err := s.count(ctx, countWhere, countArgs...)
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// count counts the products that pass where: exactly up to ExactCountLimit, else from the planner's
// estimate, which costs the same for any catalog.
func (s *Store) count(ctx context.Context, where string, args ...any) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT 1 FROM products %s LIMIT %d) AS capped`,
		where, ExactCountLimit+1), args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count products: %w", err)
	}
	if n <= ExactCountLimit {
		return n, nil
	}
	var plan []byte
	err = s.pool.QueryRow(ctx, `EXPLAIN (FORMAT JSON) SELECT 1 FROM products `+where, args...).Scan(&plan)
	if err != nil {
		return 0, fmt.Errorf("estimate product count: %w", err)
	}
	var explained []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &explained); err != nil || len(explained) == 0 {
		return 0, fmt.Errorf("estimate product count: read plan %q: %w", plan, err)
	}
	// Never below what was just counted.
	return max(n, int(explained[0].Plan.Rows)), nil
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
	return GetMany(ctx, s.pool, ids)
}

// Querier runs a query: a pool or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// GetMany is Store.GetMany through db: emu re-reads rows in the
// transaction that holds their index locks.
func GetMany(ctx context.Context, db Querier, ids []int64) (map[int64]product.Product, error) {
	rows, err := db.Query(ctx, `SELECT `+Columns+` FROM products WHERE id = ANY($1)`, ids)
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
	// A skip scan over products_category_idx: one index probe per
	// category, where DISTINCT reads every row (1 s at a million).
	rows, err := s.pool.Query(ctx, `WITH RECURSIVE c(category) AS (
			(SELECT category FROM products WHERE category <> '' ORDER BY category LIMIT 1)
			UNION ALL
			SELECT (SELECT p.category FROM products p WHERE p.category > c.category ORDER BY p.category LIMIT 1)
			FROM c WHERE c.category IS NOT NULL)
		SELECT category FROM c WHERE category IS NOT NULL`)
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
