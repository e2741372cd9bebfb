package catalog

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/product"
)

// DefaultImportBatch is how many rows ImportCSV sends per COPY when
// ImportOptions.BatchSize is not set; progress is reported at the same pace.
const DefaultImportBatch = 1_000

// csvErrorListCap bounds how many bad rows the error message spells out; the
// full list is always in ImportResult.Rejected.
const csvErrorListCap = 20

// csvTimeLayout is the seed system's last_updated format.
const csvTimeLayout = "2006-01-02 15:04:05"

// csvNumColumns is how many columns the seed system's CSV has.
const csvNumColumns = 5

// csvColumns returns the columns of the seed system's CSV, in its order.
func csvColumns() [csvNumColumns]string {
	return [csvNumColumns]string{"name", "sku", "description", "price", "last_updated"}
}

// ImportOptions configures ImportCSV.
type ImportOptions struct {
	// SkipInvalid loads the valid rows and reports the others in
	// ImportResult.Rejected. Without it, one invalid row loads nothing.
	SkipInvalid bool
	// BatchSize is how many rows go to Postgres per COPY; 0 means
	// DefaultImportBatch.
	BatchSize int
	// Progress, if set, is called every BatchSize rows and at the end with the
	// number of data rows read so far.
	Progress func(rows int)
}

// RowError is one rejected CSV row. Line is the 1-based line of the file on
// which the row starts (the header is line 1).
type RowError struct {
	Line   int
	Reason string
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// ImportResult counts what ImportCSV did. Read counts data rows (not the
// header); Read == Inserted + Updated + Unchanged + len(Rejected) after a
// successful import.
type ImportResult struct {
	Read, Inserted, Updated, Unchanged int
	Rejected                           []RowError
}

// InvalidRowsError is returned when an import without SkipInvalid met invalid
// rows and therefore loaded nothing.
type InvalidRowsError struct {
	Rows []RowError
}

func (e *InvalidRowsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d invalid rows, nothing was imported (--skip-invalid loads the valid ones):", len(e.Rows))
	for i, r := range e.Rows {
		if i == csvErrorListCap {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Rows)-i)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(r.Error())
	}
	return b.String()
}

// ImportCSV streams the seed system's CSV (header
// name,sku,description,price,last_updated; prices like $344.87; timestamps
// like 2023-09-20 22:51:32) into products, upserting by SKU.
//
// Rows are validated one by one as they stream in, copied in batches into a
// staging table, and merged with a single INSERT ... ON CONFLICT (sku) DO
// UPDATE that only touches rows whose content differs: re-importing the same
// file changes nothing, bumps no version and writes no outbox row. Everything
// runs in one transaction, so an import that fails (or that meets an invalid
// row without SkipInvalid) loads nothing.
//
// The category of an imported row is derived from its name (see
// csvCategory), since the seed system's format has none. last_updated is
// checked for format but not stored: the products table's timestamps belong
// to its trigger, which records when the row changed here.
func ImportCSV(ctx context.Context, pool *pgxpool.Pool, r io.Reader, o ImportOptions) (ImportResult, error) {
	var res ImportResult
	batch := o.BatchSize
	if batch <= 0 {
		batch = DefaultImportBatch
	}
	sc, err := newCSVScanner(r)
	if err != nil {
		return res, fmt.Errorf("import csv: %w", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("import csv: begin transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit

	if err := createStage(ctx, tx, "csv_stage"); err != nil {
		return res, fmt.Errorf("import csv: %w", err)
	}
	rows := make([][]any, 0, batch)
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"csv_stage"}, stageColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("import csv: copy %d rows before line %d: %w", len(rows), rows[len(rows)-1][0], err)
		}
		rows = rows[:0]
		return nil
	}
	// Without SkipInvalid the first bad row dooms the import, but reading
	// goes on so that the error lists every bad row at once.
	doomed := false
	for {
		p, line, bad, err := sc.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("import csv: %w", err)
		}
		res.Read++
		switch {
		case bad != nil:
			res.Rejected = append(res.Rejected, *bad)
			doomed = doomed || !o.SkipInvalid
		case !doomed:
			rows = append(rows, stageRow(line, p))
			if len(rows) == batch {
				if err := flush(); err != nil {
					return res, err
				}
			}
		}
		if res.Read%batch == 0 {
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("import csv: %w", err)
			}
			if o.Progress != nil {
				o.Progress(res.Read)
			}
		}
	}
	if doomed {
		return res, fmt.Errorf("import csv: %w", &InvalidRowsError{Rows: res.Rejected})
	}
	if err := flush(); err != nil {
		return res, err
	}

	// xmax = 0 tells a freshly inserted row from an updated one; rows whose
	// content is unchanged are filtered by the WHERE and never reach the
	// trigger, so they return nothing.
	result, err := tx.Query(ctx, `INSERT INTO products AS p (sku, name, description, price, category)
		SELECT sku, name, description, price_cents / 100.0, category FROM csv_stage ORDER BY ord
		ON CONFLICT (sku) DO UPDATE
		SET name = EXCLUDED.name, description = EXCLUDED.description,
		    price = EXCLUDED.price, category = EXCLUDED.category
		WHERE (p.name, p.description, p.price, p.category)
		      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.description, EXCLUDED.price, EXCLUDED.category)
		RETURNING (p.xmax = 0)`)
	if err != nil {
		return res, fmt.Errorf("import csv: upsert products: %w", err)
	}
	for result.Next() {
		var inserted bool
		if err := result.Scan(&inserted); err != nil {
			result.Close()
			return res, fmt.Errorf("import csv: read upsert result: %w", err)
		}
		if inserted {
			res.Inserted++
		} else {
			res.Updated++
		}
	}
	result.Close()
	if err := result.Err(); err != nil {
		return res, fmt.Errorf("import csv: upsert products: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("import csv: commit: %w", err)
	}
	res.Unchanged = res.Read - len(res.Rejected) - res.Inserted - res.Updated
	if o.Progress != nil {
		o.Progress(res.Read)
	}
	return res, nil
}

// csvScanner reads and validates the seed system's CSV one row at a time.
type csvScanner struct {
	r *csv.Reader
	// at[i] is the record index of csvColumns[i], so the columns may come in
	// any order as long as the header names them.
	at [csvNumColumns]int
	// seen maps each accepted SKU to its line, to reject later duplicates.
	seen map[string]int
}

// newCSVScanner reads and checks the header.
func newCSVScanner(r io.Reader) (*csvScanner, error) {
	names := csvColumns()
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("line 1: file is empty, want header %s", strings.Join(names[:], ","))
	}
	if err != nil {
		return nil, fmt.Errorf("line 1: read header: %w", err)
	}
	s := &csvScanner{r: cr, seen: make(map[string]int)}
	for i := range s.at {
		s.at[i] = -1
	}
	var unknown []string
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF") // a byte order mark from spreadsheet exports
		}
		h = strings.ToLower(strings.TrimSpace(h))
		col := -1
		for c, name := range names {
			if h == name {
				col = c
			}
		}
		switch {
		case col < 0:
			unknown = append(unknown, fmt.Sprintf("%q", csvClip(h)))
		case s.at[col] >= 0:
			return nil, fmt.Errorf("line 1: header names column %q twice", h)
		default:
			s.at[col] = i
		}
	}
	var missing []string
	for c, name := range names {
		if s.at[c] < 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 || len(unknown) > 0 {
		msg := fmt.Sprintf("line 1: header must be %s", strings.Join(names[:], ","))
		if len(missing) > 0 {
			msg += "; missing " + strings.Join(missing, ", ")
		}
		if len(unknown) > 0 {
			msg += "; unexpected " + strings.Join(unknown, ", ")
		}
		return nil, errors.New(msg)
	}
	cr.FieldsPerRecord = len(header)
	return s, nil
}

// next returns the next row and the line it starts on. An invalid row comes
// back as bad, with err nil; err is io.EOF at the end and anything else only
// when the input itself cannot be read.
func (s *csvScanner) next() (p product.Product, line int, bad *RowError, err error) {
	rec, err := s.r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return p, 0, nil, io.EOF
		}
		var pe *csv.ParseError
		if !errors.As(err, &pe) {
			return p, 0, nil, fmt.Errorf("read csv: %w", err)
		}
		if errors.Is(err, csv.ErrFieldCount) {
			return p, pe.StartLine, &RowError{pe.StartLine, fmt.Sprintf("has %d fields, want %d", len(rec), s.r.FieldsPerRecord)}, nil
		}
		return p, pe.StartLine, &RowError{pe.StartLine, "malformed csv: " + pe.Err.Error()}, nil
	}
	line, _ = s.r.FieldPos(0)
	var fields [csvNumColumns]string
	for c, i := range s.at {
		fields[c] = rec[i]
	}
	p, err = csvParseRow(fields)
	if err != nil {
		return p, line, &RowError{line, err.Error()}, nil
	}
	if first, dup := s.seen[p.SKU]; dup {
		return p, line, &RowError{line, fmt.Sprintf("duplicate sku %q (first on line %d)", p.SKU, first)}, nil
	}
	s.seen[p.SKU] = line
	return p, line, nil, nil
}

// csvParseRow turns the fields of one row, in csvColumns order, into a
// normalized product, or reports every problem with it in one error.
func csvParseRow(f [csvNumColumns]string) (product.Product, error) {
	var problems []string
	names := csvColumns()
	for c, v := range f {
		if !utf8.ValidString(v) {
			problems = append(problems, names[c]+" is not valid UTF-8")
			f[c] = strings.ToValidUTF8(v, "\uFFFD")
		}
	}
	p := product.Product{Name: f[0], SKU: f[1], Description: f[2]}
	p.Normalize()
	price, err := product.ParsePrice(f[3])
	switch {
	case err != nil && utf8.RuneCountInString(f[3]) > 40:
		problems = append(problems, fmt.Sprintf("price %q is not a valid amount", csvClip(f[3])))
	case err != nil:
		problems = append(problems, err.Error())
	}
	p.Price = price
	if ts := strings.TrimSpace(f[4]); ts == "" {
		problems = append(problems, "last_updated is empty")
	} else if _, err := time.Parse(csvTimeLayout, ts); err != nil {
		problems = append(problems, fmt.Sprintf("last_updated %q is not a time like %s", csvClip(ts), csvTimeLayout))
	}
	p.Category = csvCategory(p.Name)
	if v, ok := product.AsValidation(p.Validate()); ok {
		for _, fe := range v {
			if fe.Field == "price" && err != nil {
				continue // already reported by ParsePrice
			}
			problems = append(problems, fe.Field+" "+fe.Message)
		}
	}
	if len(problems) > 0 {
		return product.Product{}, errors.New(strings.Join(problems, "; "))
	}
	return p, nil
}

// csvCategory derives a category from a product name, because the seed
// system's CSV has none: the last word, lower-cased and stripped of
// punctuation ("Pro System" -> "system"). The seed file's names are
// "<adjective> <kind>", so this groups its 9,999 rows into eight kinds.
func csvCategory(name string) string {
	fields := strings.Fields(name)
	if len(fields) == 0 {
		return ""
	}
	w := strings.TrimFunc(fields[len(fields)-1], func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	w = strings.ToLower(w)
	if utf8.RuneCountInString(w) > product.MaxCategory {
		w = string([]rune(w)[:product.MaxCategory])
	}
	return w
}

// csvClip shortens a value quoted in an error message.
func csvClip(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "..."
}
