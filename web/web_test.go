package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/refarch/refarch/product"
)

func TestStateURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		st   State
		want string
	}{
		{State{}, "/"},
		{State{Page: 1}, "/"},
		{State{Page: 3}, "/?page=3"},
		{State{Q: " red shoes ", Page: 3}, "/?q=red+shoes"}, // a search has no pages
		{State{Q: "a&b", Hybrid: true, Category: "sports", MinPrice: "1", MaxPrice: " "}, "/?category=sports&min_price=1&mode=hybrid&q=a%26b"},
	}
	for _, tt := range tests {
		if got := tt.st.URL(); got != tt.want {
			t.Errorf("%+v: got %s, want %s", tt.st, got, tt.want)
		}
	}
}

func TestBadgesActive(t *testing.T) {
	t.Parallel()
	if (Badges{States: map[int64]string{1: "indexed", 2: "failed"}}).Active() {
		t.Error("no badge is indexing, yet the poller stays active")
	}
	if !(Badges{States: map[int64]string{1: "indexed", 2: "indexing"}}).Active() {
		t.Error("a badge is indexing, yet the poller stops")
	}
}

func TestChartScalesIntoBox(t *testing.T) {
	t.Parallel()
	now := time.Now()
	v := StatusView{Samples: []Sample{{now, 0, 10}, {now, 50, 5}, {now, 100, 0}}}
	c := v.chart()
	if c.MaxRate != 100 || c.MaxLag != 10 {
		t.Fatalf("max rate %v lag %v", c.MaxRate, c.MaxLag)
	}
	if c.RatePoints != "0.0,152.0 300.0,80.0 600.0,8.0" {
		t.Errorf("rate points %q", c.RatePoints)
	}
	if c.LagPoints != "0.0,8.0 300.0,80.0 600.0,152.0" {
		t.Errorf("lag points %q", c.LagPoints)
	}
}

func TestRowEscapesAndShowsState(t *testing.T) {
	t.Parallel()
	row := Row{Product: product.Product{ID: 7, SKU: `"><b>`, Name: "<img src=x onerror=alert(1)>", Price: 1999}, Sync: "indexing", Score: 0.91234, HasScore: true}
	var b strings.Builder
	if err := ProductRow(row, Session{CanWrite: true}).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, bad := range []string{"<img", `"><b>`} {
		if strings.Contains(html, bad) {
			t.Errorf("unescaped %q in %s", bad, html)
		}
	}
	for _, want := range []string{`id="row-7"`, "$19.99", "0.912", `id="badge-7"`, "badge-indexing", "indexing…", "Delete “&lt;img"} {
		if !strings.Contains(html, want) {
			t.Errorf("row lacks %q:\n%s", want, html)
		}
	}
}

func TestStatusShowsOutageBanner(t *testing.T) {
	var b strings.Builder
	if err := StatusBody(StatusView{}).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Outage") {
		t.Fatalf("banner without an outage: %s", b.String())
	}
	b.Reset()
	v := StatusView{Outage: "vector store failing for every product since 2026-11-30 19:52:01 UTC (<missing table>)"}
	if err := StatusBody(v).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `role="alert"><strong>Outage:</strong> vector store failing`) || !strings.Contains(b.String(), "&lt;missing table&gt;") {
		t.Fatalf("no escaped outage banner: %s", b.String())
	}
}
