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
		{State{Q: " red shoes ", Page: 3}, "/?page=3&q=red+shoes"},
		{State{Q: "mug", Sort: "price", Weaker: true}, "/?min_score=0&q=mug"}, // searches are ranked, not sorted
		{State{Sort: "-price", MinPrice: "2", Weaker: true}, "/?min_price=2&sort=-price"},
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

func TestChartsHaveAxesAndTime(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	v := StatusView{Samples: []Sample{{at, 0, 10}, {at.Add(5 * time.Second), 40, 5}, {at.Add(10 * time.Second), 80, 0}}}
	cs := v.charts()
	if len(cs) != 2 {
		t.Fatalf("%d charts, want one per series", len(cs))
	}
	rate, lag := cs[0], cs[1]
	// Each series on its own scale, rounded up to a readable top.
	if rate.Max != 100 || lag.Max != 10 {
		t.Fatalf("tops %v and %v, want 100 and 10", rate.Max, lag.Max)
	}
	if rate.Points != "44.0,124.0 178.0,78.4 312.0,32.8" {
		t.Errorf("rate points %q", rate.Points)
	}
	if lag.Points != "44.0,10.0 178.0,67.0 312.0,124.0" {
		t.Errorf("lag points %q", lag.Points)
	}
	if rate.Start != "12:00:00" || rate.End != "12:00:10 UTC" || rate.Unit == "" || rate.Explain == "" {
		t.Errorf("rate axis %q to %q, unit %q", rate.Start, rate.End, rate.Unit)
	}
	var b strings.Builder
	if err := StatusBody(StatusView{Samples: v.Samples, UpdatedAt: at, Stats: []Stat{{Label: "Queued", Value: 1234, Explain: "Messages waiting."}}}).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"12:00:00 UTC", "<dd>1,234</dd>", "Messages waiting.", "Index writes", "Freshness lag", ">100.0</text>"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status body lacks %q", want)
		}
	}
}

func TestRowEscapesAndShowsState(t *testing.T) {
	t.Parallel()
	row := Row{Product: product.Product{ID: 7, SKU: `"><b>`, Name: "<img src=x onerror=alert(1)>", Price: 1999}, Sync: "indexing", Score: 0.91234, HasScore: true, Similarity: 0.91234, HasSimilarity: true, Label: "strong"}
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
	for _, want := range []string{`id="row-7"`, "$19.99", "Strong match", "similarity 0.912", `id="badge-7"`, "badge-indexing", "indexing…", `aria-label="Delete &lt;img`} {
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
