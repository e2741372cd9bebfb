package catalog

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/product"
)

const csvTestHeader = "name,sku,description,price,last_updated"

func TestCSVParseRow(t *testing.T) {
	t.Parallel()
	ok := [csvNumColumns]string{"Pro System", "SKU-fLRM-842", "A fine system.", "$344.87", "2023-09-20 22:51:32"}
	with := func(col int, v string) [csvNumColumns]string {
		f := ok
		f[col] = v
		return f
	}
	tests := []struct {
		name   string
		fields [csvNumColumns]string
		want   product.Product
		errs   []string // substrings of the error; none means the row is valid
	}{
		{"seed file row", ok, product.Product{SKU: "SKU-fLRM-842", Name: "Pro System", Description: "A fine system.", Price: 34487, Category: "system"}, nil},
		{"spaces trimmed", [csvNumColumns]string{"  Lite Device ", " S-1 ", " d ", " $845.00 ", " 2023-09-03 22:51:32 "},
			product.Product{SKU: "S-1", Name: "Lite Device", Description: "d", Price: 84500, Category: "device"}, nil},
		{"price without dollar", with(3, "12"), product.Product{SKU: "SKU-fLRM-842", Name: "Pro System", Description: "A fine system.", Price: 1200, Category: "system"}, nil},
		{"price with thousands", with(3, "$1,299.5"), product.Product{SKU: "SKU-fLRM-842", Name: "Pro System", Description: "A fine system.", Price: 129950, Category: "system"}, nil},
		{"price not a number", with(3, "abc"), product.Product{}, []string{`price "abc" is not a number`}},
		{"price dollar minus", with(3, "$-1"), product.Product{}, []string{`price "$-1" is not a number`}},
		{"price negative", with(3, "-$1.00"), product.Product{}, []string{"price must not be negative"}},
		{"price three decimals", with(3, "1.234"), product.Product{}, []string{`price "1.234" must have one or two decimal places`}},
		{"price empty", with(3, ""), product.Product{}, []string{"price", "empty"}},
		{"price huge garbage", with(3, strings.Repeat("9x", 500)), product.Product{}, []string{"is not a valid amount"}},
		{"price too large", with(3, "$999999999999"), product.Product{}, []string{"price is too large"}},
		{"timestamp wrong format", with(4, "2023-09-20T22:51:32Z"), product.Product{}, []string{`last_updated "2023-09-20T22:51:32Z" is not a time like 2006-01-02 15:04:05`}},
		{"timestamp impossible date", with(4, "2023-13-45 25:00:00"), product.Product{}, []string{"last_updated"}},
		{"timestamp empty", with(4, ""), product.Product{}, []string{"last_updated is empty"}},
		{"sku empty", with(1, "  "), product.Product{}, []string{"sku is required"}},
		{"name empty", with(0, ""), product.Product{}, []string{"name is required"}},
		{"description empty", with(2, ""), product.Product{}, []string{"description is required"}},
		{"name invalid utf-8", with(0, "Pro \xff System"), product.Product{}, []string{"name is not valid UTF-8"}},
		{"price invalid utf-8", with(3, "$1\xff"), product.Product{}, []string{"price is not valid UTF-8"}},
		{"description with NUL", with(2, "a\x00b"), product.Product{}, []string{"description contains a NUL character"}},
		{"sku too long", with(1, strings.Repeat("S", product.MaxSKU+1)), product.Product{}, []string{"sku is longer than 64 characters"}},
		{"every problem at once", [csvNumColumns]string{"", "", "x", "abc", "never"}, product.Product{},
			[]string{"name is required", "sku is required", `price "abc"`, `last_updated "never"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := csvParseRow(tt.fields)
			if len(tt.errs) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if got != tt.want {
					t.Fatalf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted %q as %+v", tt.fields, got)
			}
			for _, e := range tt.errs {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("error %q does not contain %q", err, e)
				}
			}
		})
	}
}

func TestCSVCategory(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"Pro System":                    "system",
		"Ultra Controller":              "controller",
		"Gadget":                        "gadget",
		"  Super   Machine ":            "machine",
		"Thing (Blue)":                  "blue",
		"":                              "",
		"!!!":                           "",
		"Café Crème":                    "crème",
		"X " + strings.Repeat("a", 100): strings.Repeat("a", product.MaxCategory),
	}
	for name, want := range tests {
		if got := csvCategory(name); got != want {
			t.Errorf("csvCategory(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestCSVHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, input string
		err         string // empty: the header is accepted
	}{
		{"seed file header", csvTestHeader + "\r\n", ""},
		{"byte order mark and case", "\uFEFFName, SKU ,Description,PRICE,last_updated\n", ""},
		{"columns reordered", "sku,name,price,description,last_updated\n", ""},
		{"empty file", "", "line 1: file is empty, want header name,sku,description,price,last_updated"},
		{"data instead of header", "Pro System,SKU-fLRM-842,desc,$344.87,2023-09-20 22:51:32\n",
			"line 1: header must be name,sku,description,price,last_updated; missing name, sku, description, price, last_updated"},
		{"missing column", "name,sku,description,price\n", "missing last_updated"},
		{"extra column", csvTestHeader + ",color\n", `unexpected "color"`},
		{"duplicate column", "name,sku,sku,description,price,last_updated\n", `header names column "sku" twice`},
		{"broken quoting", "\"name,sku\n", "line 1: read header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newCSVScanner(strings.NewReader(tt.input))
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("header rejected: %v", err)
			case tt.err != "" && err == nil:
				t.Fatalf("header %q accepted", tt.input)
			case tt.err != "" && !strings.Contains(err.Error(), tt.err):
				t.Fatalf("error %q does not contain %q", err, tt.err)
			}
		})
	}
}

// TestCSVScannerLines checks that rows are reported on the line they start
// on, also after quoted fields that span lines and after malformed rows.
func TestCSVScannerLines(t *testing.T) {
	t.Parallel()
	input := strings.Join([]string{
		"sku,name,description,price,last_updated",                                  // 1, columns reordered
		"A-1,Pro System,plain,$1.00,2023-09-20 22:51:32",                           // 2
		`A-2,Lite Device,"two` + "\n" + `lines, quoted",$2.00,2023-09-20 22:51:32`, // 3-4
		"A-3,Super Machine,short row,$3.00",                                        // 5
		"A-4,Ultra Tool,bad price,$-1,2023-09-20 22:51:32",                         // 6
		"A-1,Pro System,duplicate,$1.00,2023-09-20 22:51:32",                       // 7
		`A-5,Bare "quote,x,$5.00,2023-09-20 22:51:32`,                              // 8
		"", // 9, blank lines are skipped
		"A-6,Last Gadget,fine,6,2023-09-20 22:51:32", // 10
	}, "\n")
	sc, err := newCSVScanner(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Line   int
		SKU    string
		Reason string
	}
	var got []row
	for {
		p, line, bad, err := sc.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if bad != nil {
			if bad.Line != line {
				t.Errorf("RowError line %d, next returned line %d", bad.Line, line)
			}
			got = append(got, row{bad.Line, "", bad.Reason})
			continue
		}
		got = append(got, row{line, p.SKU, ""})
	}
	want := []row{
		{2, "A-1", ""},
		{3, "A-2", ""},
		{5, "", "has 4 fields, want 5"},
		{6, "", `price "$-1" is not a number`},
		{7, "", `duplicate sku "A-1" (first on line 2)`},
		{8, "", `malformed csv: bare " in non-quoted-field`},
		{10, "A-6", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}
}

// csvBuild writes a CSV file with the seed system's header.
func csvBuild(t testing.TB, rows [][]string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	if err := w.Write(strings.Split(csvTestHeader, ",")); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// csvLine encodes one record as one line of CSV, quoting as needed.
func csvLine(t testing.TB, fields []string) string {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(fields); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	line := strings.TrimSuffix(b.String(), "\n")
	if strings.Contains(line, "\n") {
		t.Fatalf("record %q spans lines", fields)
	}
	return line
}

// csvRowsOf turns generated products into CSV rows, one line each.
func csvRowsOf(ps []product.Product) [][]string {
	rows := make([][]string, len(ps))
	for i, p := range ps {
		rows[i] = []string{p.Name, p.SKU, p.Description, "$" + p.Price.String(), "2023-09-20 22:51:32"}
	}
	return rows
}

// outbox counts the changes recorded for the pipeline: outbox rows, and
// the products inserted by a bulk statement, whose id ranges are recorded
// instead (backfill_ranges).
type csvDBState struct {
	products, outbox, maxVersion, cents int64
}

func csvState(t testing.TB, pool *pgxpool.Pool) csvDBState {
	t.Helper()
	var s csvDBState
	err := pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM products),
		(SELECT count(*) FROM sync_outbox) + (SELECT count(*) FROM backfill_ranges r JOIN products p ON p.id BETWEEN r.lo AND r.hi),
		(SELECT coalesce(max(version), 0) FROM products), (SELECT coalesce(sum(price * 100), 0)::bigint FROM products)`,
	).Scan(&s.products, &s.outbox, &s.maxVersion, &s.cents)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// csvSeedFile finds the seed system's CSV next to the repository
// (../shared/data from the module root), or skips the test.
func csvSeedFile(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("REFARCH_SEED_CSV"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find the module root (go.mod) above the test's directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "data", "seed-products.csv")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("seed system's CSV not found at %s (set REFARCH_SEED_CSV to its path): %v", p, err)
	}
	return p
}

func TestImportSeedFile(t *testing.T) {
	t.Parallel()
	path := csvSeedFile(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// An independent reading of the file: every price is $D.CC.
	type want struct {
		name, desc string
		cents      int64
	}
	byName := map[string]want{}
	var sum int64
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	priceRE := regexp.MustCompile(`^\$(\d+)\.(\d\d)$`)
	for _, r := range recs[1:] {
		m := priceRE.FindStringSubmatch(r[3])
		if m == nil {
			t.Fatalf("test cannot read price %q", r[3])
		}
		d, _ := strconv.ParseInt(m[1], 10, 64)
		c, _ := strconv.ParseInt(m[2], 10, 64)
		sum += d*100 + c
		byName[r[1]] = want{r[0], r[2], d*100 + c}
	}

	ctx := context.Background()
	pool := pgtest.New(t)
	var progress []int
	res, err := ImportCSV(ctx, pool, bytes.NewReader(data), ImportOptions{Progress: func(n int) { progress = append(progress, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Read != 9999 || res.Inserted != 9999 || res.Updated != 0 || res.Unchanged != 0 || len(res.Rejected) != 0 {
		t.Fatalf("result %+v, want 9999 read and inserted", res)
	}
	if len(progress) < 9 || progress[len(progress)-1] != 9999 {
		t.Errorf("progress calls %v, want one per 1000 rows ending at 9999", progress)
	}
	st := csvState(t, pool)
	if st.products != 9999 || st.outbox != 9999 || st.maxVersion != 1 {
		t.Errorf("after import: %+v, want 9999 products, 9999 outbox rows, version 1", st)
	}
	if st.cents != sum {
		t.Errorf("sum of prices in Postgres is %d cents, the file says %d", st.cents, sum)
	}
	for _, sku := range []string{"SKU-fLRM-842", "SKU-wxJp-879", "SKU-raQP-504", recs[len(recs)-1][1]} {
		var name, desc, cat string
		var cents int64
		err := pool.QueryRow(ctx, `SELECT name, description, (price * 100)::bigint, category FROM products WHERE sku = $1`, sku).
			Scan(&name, &desc, &cents, &cat)
		if err != nil {
			t.Fatalf("look up %s: %v", sku, err)
		}
		w := byName[sku]
		if name != w.name || desc != w.desc || cents != w.cents {
			t.Errorf("%s is (%q, %q, %d), want (%q, %q, %d)", sku, name, desc, cents, w.name, w.desc, w.cents)
		}
		if wantCat := strings.ToLower(w.name[strings.LastIndex(w.name, " ")+1:]); cat != wantCat {
			t.Errorf("%s has category %q, want %q", sku, cat, wantCat)
		}
	}
	var cats int64
	if err := pool.QueryRow(ctx, `SELECT count(DISTINCT category) FROM products`).Scan(&cats); err != nil || cats != 8 {
		t.Errorf("%d categories (err %v), want the 8 kinds of the seed file", cats, err)
	}

	// Importing the same file again changes nothing at all.
	res, err = ImportCSV(ctx, pool, bytes.NewReader(data), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Read != 9999 || res.Unchanged != 9999 || res.Inserted != 0 || res.Updated != 0 {
		t.Errorf("re-import result %+v, want 9999 unchanged", res)
	}
	if again := csvState(t, pool); again != st {
		t.Errorf("re-import changed the database: %+v, was %+v", again, st)
	}
}

func TestImportUpdatesOnlyChangedRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	ps := Generate(300, 11)
	opts := ImportOptions{BatchSize: 7} // many COPY batches
	res, err := ImportCSV(ctx, pool, bytes.NewReader(csvBuild(t, csvRowsOf(ps))), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 300 {
		t.Fatalf("first import %+v, want 300 inserted", res)
	}
	before := csvState(t, pool)

	// Change the price of three rows, the description of one, and add one.
	changed := map[string]bool{ps[0].SKU: true, ps[150].SKU: true, ps[299].SKU: true, ps[42].SKU: true}
	ps[0].Price += 1
	ps[150].Price = 0
	ps[299].Price *= 2
	ps[42].Description += " Now in blue."
	extra := product.Product{SKU: "NEW-1", Name: "Fresh Gadget", Description: "Brand new.", Price: 999}
	rows := csvRowsOf(append(ps, extra))
	res, err = ImportCSV(ctx, pool, bytes.NewReader(csvBuild(t, rows)), opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ImportResult{Read: 301, Inserted: 1, Updated: 4, Unchanged: 296}); !reflect.DeepEqual(res, want) {
		t.Errorf("second import %+v, want %+v", res, want)
	}
	after := csvState(t, pool)
	if after.outbox != before.outbox+5 {
		t.Errorf("outbox grew by %d rows, want 5", after.outbox-before.outbox)
	}
	r, err := pool.Query(ctx, `SELECT sku, version, (price * 100)::bigint FROM products`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	bySKU := map[string]product.Product{}
	for _, p := range append(ps, extra) {
		bySKU[p.SKU] = p
	}
	for r.Next() {
		var sku string
		var version, cents int64
		if err := r.Scan(&sku, &version, &cents); err != nil {
			t.Fatal(err)
		}
		wantVersion := int64(1)
		if changed[sku] {
			wantVersion = 2
		}
		if version != wantVersion {
			t.Errorf("%s has version %d, want %d", sku, version, wantVersion)
		}
		if product.Price(cents) != bySKU[sku].Price {
			t.Errorf("%s costs %d cents, want %d", sku, cents, bySKU[sku].Price)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
}

// csvBrokenFile has valid rows around one bad row of every kind; the line
// numbers are those of the file.
func csvBrokenFile(t testing.TB) ([]byte, []RowError, int) {
	t.Helper()
	good := csvRowsOf(Generate(20, 4))
	ts := "2023-09-20 22:51:32"
	lines := []string{csvTestHeader}
	for _, r := range good[:10] {
		lines = append(lines, csvLine(t, r))
	}
	bad := []struct{ line, reason string }{
		{"Short Row,S-1,missing a column,$1.00", "has 4 fields, want 5"},
		{"Bad Price,S-2,abc price,abc," + ts, `price "abc" is not a number`},
		{"Bad Price,S-3,negative,$-1," + ts, `price "$-1" is not a number`},
		{"Bad Price,S-4,three decimals,1.234," + ts, `price "1.234" must have one or two decimal places`},
		{"Bad Time,S-5,bad timestamp,$1.00,20/09/2023", `last_updated "20/09/2023" is not a time like 2006-01-02 15:04:05`},
		{",S-6,no name,$1.00," + ts, "name is required"},
		{"No Sku,,no sku,$1.00," + ts, "sku is required"},
		{"Bad \xff Bytes,S-7,latin-1,$1.00," + ts, "name is not valid UTF-8"},
		{csvLine(t, append(good[3][:4:4], ts)), fmt.Sprintf("duplicate sku %q (first on line 5)", good[3][1])},
	}
	var want []RowError
	for _, b := range bad {
		lines = append(lines, b.line)
		want = append(want, RowError{Line: len(lines), Reason: b.reason})
	}
	for _, r := range good[10:] {
		lines = append(lines, csvLine(t, r))
	}
	return []byte(strings.Join(lines, "\n") + "\n"), want, len(good)
}

func TestImportBrokenFileLoadsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	// A row that exists before the import must be left as it was.
	if _, err := ImportCSV(ctx, pool, bytes.NewReader(csvBuild(t, [][]string{{"Old Tool", "OLD-1", "Kept.", "$5.00", "2023-01-01 00:00:00"}})), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	before := csvState(t, pool)

	data, want, _ := csvBrokenFile(t)
	data = append(data, []byte("Old Tool,OLD-1,Changed.,$6.00,2023-01-01 00:00:00\n")...)
	res, err := ImportCSV(ctx, pool, bytes.NewReader(data), ImportOptions{BatchSize: 3})
	if err == nil {
		t.Fatal("import of a broken file succeeded")
	}
	var inv *InvalidRowsError
	if !errors.As(err, &inv) {
		t.Fatalf("error %v is not an InvalidRowsError", err)
	}
	if !reflect.DeepEqual(inv.Rows, want) || !reflect.DeepEqual(res.Rejected, want) {
		t.Errorf("rejected rows\n%v\nwant\n%v", inv.Rows, want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w.Error()) {
			t.Errorf("error message does not mention %q:\n%v", w.Error(), err)
		}
	}
	if after := csvState(t, pool); after != before {
		t.Errorf("a failed import changed the database: %+v, was %+v", after, before)
	}
}

func TestImportSkipInvalidLoadsValidRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	data, want, good := csvBrokenFile(t)
	res, err := ImportCSV(ctx, pool, bytes.NewReader(data), ImportOptions{SkipInvalid: true, BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Rejected, want) {
		t.Errorf("rejected rows\n%v\nwant\n%v", res.Rejected, want)
	}
	if res.Read != good+len(want) || res.Inserted != good {
		t.Errorf("result %+v, want %d read and %d inserted", res, good+len(want), good)
	}
	if st := csvState(t, pool); st.products != int64(good) || st.outbox != int64(good) {
		t.Errorf("database %+v, want %d products and outbox rows", st, good)
	}
}

func TestImportHeaderErrorLoadsNothing(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	_, err := ImportCSV(context.Background(), pool, strings.NewReader("Pro System,SKU-1,desc,$1.00,2023-09-20 22:51:32\n"), ImportOptions{SkipInvalid: true})
	if err == nil || !strings.Contains(err.Error(), "line 1: header must be") {
		t.Fatalf("got error %v, want a header error on line 1", err)
	}
	if st := csvState(t, pool); st.products != 0 {
		t.Errorf("%d products after a rejected file", st.products)
	}
}

func TestInvalidRowsErrorIsCapped(t *testing.T) {
	t.Parallel()
	var rows []RowError
	for i := range 50 {
		rows = append(rows, RowError{Line: i + 2, Reason: "bad"})
	}
	msg := (&InvalidRowsError{Rows: rows}).Error()
	if !strings.HasPrefix(msg, "50 invalid rows, nothing was imported") || !strings.Contains(msg, "line 21: bad") ||
		strings.Contains(msg, "line 22: bad") || !strings.HasSuffix(msg, "... and 30 more") {
		t.Errorf("message:\n%s", msg)
	}
}

// FuzzParseCSVRow checks that the row parser never panics and that every row
// it accepts is a valid, normalized product with a non-negative price.
func FuzzParseCSVRow(f *testing.F) {
	f.Add("Pro System", "SKU-fLRM-842", "This is a product.", "$344.87", "2023-09-20 22:51:32")
	f.Add("", "", "", "", "")
	f.Add("A \xff", "S", "d", "-$1", "2023-02-30 00:00:00")
	f.Add("Name", "S\x00", "d", "$1,000.5", " 2023-09-20 22:51:32 ")
	f.Add("x", "y", "z", "1.234", "yesterday")
	f.Fuzz(func(t *testing.T, name, sku, desc, price, ts string) {
		p, err := csvParseRow([csvNumColumns]string{name, sku, desc, price, ts})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if verr := p.Validate(); verr != nil {
			t.Fatalf("accepted row does not validate: %v (%+v)", verr, p)
		}
		if p.Price < 0 {
			t.Fatalf("accepted negative price %d", p.Price)
		}
		q := p
		q.Normalize()
		if q != p {
			t.Fatalf("accepted row is not normalized: %+v", p)
		}
		if _, err := time.Parse(csvTimeLayout, strings.TrimSpace(ts)); err != nil {
			t.Fatalf("accepted timestamp %q: %v", ts, err)
		}
		if want, err := product.ParsePrice(price); err != nil || want != p.Price {
			t.Fatalf("price %q became %d", price, p.Price)
		}
	})
}

// FuzzCSVScanner feeds whole files through the streaming reader: it must not
// panic or loop, must report rows in line order, and accepted rows validate
// and have distinct SKUs.
func FuzzCSVScanner(f *testing.F) {
	f.Add([]byte(csvTestHeader + "\nPro System,S-1,d,$1.00,2023-09-20 22:51:32\n"))
	f.Add([]byte(csvTestHeader + "\r\n\"a\nb\",S-1,\"d\"\"q\",1,2023-09-20 22:51:32\r\nx,S-1,d,1,2023-09-20 22:51:32"))
	f.Add([]byte("sku,name\n"))
	f.Add([]byte(csvTestHeader + "\na,\"b,c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := newCSVScanner(bytes.NewReader(data))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		last := 1
		for range len(data) + 2 {
			p, line, bad, err := sc.next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("read from memory failed: %v", err)
			}
			if line <= last {
				t.Fatalf("row on line %d after line %d", line, last)
			}
			last = line
			if bad != nil {
				continue
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("accepted row does not validate: %v", err)
			}
			if seen[p.SKU] {
				t.Fatalf("sku %q accepted twice", p.SKU)
			}
			seen[p.SKU] = true
		}
		t.Fatal("more rows than bytes: the reader does not progress")
	})
}

// BenchmarkImportSeedFile imports the seed system's 9,999 rows into a fresh
// database per iteration.
func BenchmarkImportSeedFile(b *testing.B) {
	data, err := os.ReadFile(csvSeedFile(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rows := 0
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		pool := pgtest.New(b)
		b.StartTimer()
		res, err := ImportCSV(ctx, pool, bytes.NewReader(data), ImportOptions{})
		if err != nil {
			b.Fatal(err)
		}
		rows += res.Inserted
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
