// Package product holds the product record, its validation and the text that
// is embedded for it. It does no I/O so that every role agrees on the rules.
package product

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on the fields a client may set. They are generous for real catalogs
// and keep a single bad row from blowing up an embedding batch.
const (
	MaxSKU         = 64
	MaxName        = 200
	MaxDescription = 4000
	MaxCategory    = 64
	MaxPriceCents  = 100_000_000_00 // 100 million
)

// Product is one row of the products table.
type Product struct {
	ID          int64     `json:"id"`
	SKU         string    `json:"sku"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Price       Price     `json:"price"`
	Category    string    `json:"category"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Version     int64     `json:"version"`
}

// FieldError names the field a validation problem is about, so that the API
// and the UI can show the message next to it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidationError lists every problem with a record at once.
type ValidationError []FieldError

func (v ValidationError) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Error()
	}
	return "invalid product: " + strings.Join(parts, "; ")
}

// AsValidation returns the validation problems in err, if it carries any.
func AsValidation(err error) (ValidationError, bool) {
	var v ValidationError
	ok := errors.As(err, &v)
	return v, ok
}

// Normalize trims surrounding white space from the text fields.
func (p *Product) Normalize() {
	p.SKU = strings.TrimSpace(p.SKU)
	p.Name = strings.TrimSpace(p.Name)
	p.Description = strings.TrimSpace(p.Description)
	p.Category = strings.TrimSpace(p.Category)
}

// Validate reports every problem with the client-settable fields.
func (p Product) Validate() error {
	var errs ValidationError
	check := func(field, value string, max int, required bool) {
		switch {
		case required && value == "":
			errs = append(errs, FieldError{field, "is required"})
		case !utf8.ValidString(value):
			errs = append(errs, FieldError{field, "is not valid UTF-8"})
		case utf8.RuneCountInString(value) > max:
			errs = append(errs, FieldError{field, fmt.Sprintf("is longer than %d characters", max)})
		case strings.ContainsRune(value, 0):
			errs = append(errs, FieldError{field, "contains a NUL character"})
		}
	}
	check("sku", p.SKU, MaxSKU, true)
	check("name", p.Name, MaxName, true)
	check("description", p.Description, MaxDescription, true)
	check("category", p.Category, MaxCategory, false)
	if p.Price < 0 {
		errs = append(errs, FieldError{"price", "must not be negative"})
	} else if p.Price > MaxPriceCents {
		errs = append(errs, FieldError{"price", "is too large"})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// EmbedText is the text whose meaning is indexed: name and description. Price
// and category are metadata, so editing them never needs a new embedding.
func (p Product) EmbedText() string {
	return EmbedText(p.Name, p.Description)
}

// EmbedText joins a name and a description the way every role must.
func EmbedText(name, description string) string {
	return strings.TrimSpace(name) + ". " + strings.TrimSpace(description)
}

// ContentHash identifies the embedded text; equal hashes mean no new
// embedding is needed.
func ContentHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:16])
}

// Price is an amount in cents. It is kept as an integer so that prices are
// exact to the cent from CSV to Postgres to JSON.
type Price int64

// ParsePrice reads "344.87", "$344.87", "1,299.00" or "12". More than two
// decimal places, signs other than a leading minus, and garbage are errors.
func ParsePrice(s string) (Price, error) {
	orig := s
	s = strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(s, "-") {
		neg = true
		s = s[1:]
	}
	s = strings.TrimPrefix(s, "$")
	s = strings.ReplaceAll(s, ",", "")
	if s == "" {
		return 0, fmt.Errorf("price %q is empty", orig)
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if hasDot && (len(frac) == 0 || len(frac) > 2) {
		return 0, fmt.Errorf("price %q must have one or two decimal places", orig)
	}
	for _, part := range []string{whole, frac} {
		for _, r := range part {
			if r < '0' || r > '9' {
				return 0, fmt.Errorf("price %q is not a number", orig)
			}
		}
	}
	if len(whole) > 12 {
		return 0, fmt.Errorf("price %q is too large", orig)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("price %q is not a number", orig)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	cents := w*100 + f
	if neg {
		cents = -cents
	}
	return Price(cents), nil
}

// String formats the price with two decimals, as Postgres numeric accepts it.
func (p Price) String() string {
	sign := ""
	c := int64(p)
	if c < 0 {
		sign = "-"
		c = -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

// Float returns the price in currency units, for metadata filters.
func (p Price) Float() float64 { return float64(p) / 100 }

// MarshalJSON writes the price as a JSON number with two decimals.
func (p Price) MarshalJSON() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalJSON accepts a JSON number or string with at most two decimals.
func (p *Price) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" {
		return errors.New("price must be a number")
	}
	v, err := ParsePrice(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}
