package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
)

// progress renders Terraform's machine-readable UI (-json, one message per line) as short,
// time-stamped lines while the plan or apply runs, and remembers the change counts and error
// diagnostics for the final message. Lines that are not JSON are passed through unchanged.
type progress struct {
	lineWriter
	w       io.Writer
	start   time.Time
	now     func() time.Time
	changes changeSummary
	errors  []string
	// planned lists each planned change as "symbol address", for the plan summary.
	planned []string
}

func newProgress(w io.Writer, start time.Time, now func() time.Time) *progress {
	p := &progress{w: w, start: start, now: now}
	p.onLine = p.line
	return p
}

// changeSummary counts what a plan would do or an apply did.
type changeSummary struct {
	Add    int `json:"add"`
	Change int `json:"change"`
	Remove int `json:"remove"`
	Seen   bool
}

func (c changeSummary) String() string {
	if !c.Seen {
		return "changes unknown"
	}
	return fmt.Sprintf("%d to add, %d to change, %d to destroy", c.Add, c.Change, c.Remove)
}

// uiMessage is the part of a Terraform JSON UI message that progress reads.
type uiMessage struct {
	Level   string `json:"@level"`
	Message string `json:"@message"`
	Type    string `json:"type"`
	Change  *struct {
		Resource struct {
			Addr string `json:"addr"`
		} `json:"resource"`
		Action string `json:"action"`
	} `json:"change"`
	Changes *struct {
		Add       int    `json:"add"`
		Change    int    `json:"change"`
		Remove    int    `json:"remove"`
		Operation string `json:"operation"`
	} `json:"changes"`
	Diagnostic *struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
		Address  string `json:"address"`
	} `json:"diagnostic"`
}

var actionSymbols = map[string]string{
	"create": "+", "update": "~", "delete": "-", "replace": "-/+", "read": "<=", "move": "->", "import": "<-",
}

// actionSymbol is the symbol of a saved plan's change, as the streamed plan shows it.
func actionSymbol(a tfjson.Actions) string {
	switch {
	case a.Replace():
		return "-/+"
	case a.Create():
		return "+"
	case a.Update():
		return "~"
	case a.Delete():
		return "-"
	}
	return "?"
}

func (p *progress) line(raw []byte) {
	var m uiMessage
	if raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		p.print("%s", raw)
		return
	}
	switch m.Type {
	case "version", "outputs", "refresh_start", "refresh_complete":
		return
	case "planned_change":
		if m.Change == nil || m.Change.Action == "noop" {
			return
		}
		sym, ok := actionSymbols[m.Change.Action]
		if !ok {
			sym = m.Change.Action
		}
		p.planned = append(p.planned, sym+" "+m.Change.Resource.Addr)
		p.print("  %s %s", sym, m.Change.Resource.Addr)
	case "change_summary":
		if m.Changes != nil {
			p.changes = changeSummary{Add: m.Changes.Add, Change: m.Changes.Change, Remove: m.Changes.Remove, Seen: true}
		}
		p.print("%s", m.Message)
	case "diagnostic":
		if m.Diagnostic == nil {
			p.print("%s", m.Message)
			return
		}
		d := m.Diagnostic
		text := d.Summary
		if d.Address != "" {
			text = d.Address + ": " + text
		}
		if d.Detail != "" {
			text += ": " + strings.Join(strings.Fields(d.Detail), " ")
		}
		if d.Severity == "error" {
			p.errors = append(p.errors, text)
		}
		p.print("%s: %s", d.Severity, text)
	default:
		if m.Message != "" {
			p.print("%s", m.Message)
		}
	}
}

func (p *progress) print(format string, args ...any) {
	fmt.Fprintf(p.w, "    [%s] %s\n", elapsed(p.now().Sub(p.start)), fmt.Sprintf(format, args...))
}

// errorSummary appends the error diagnostics to a failure, so the returned error says why.
func (p *progress) errorSummary() string {
	if len(p.errors) == 0 {
		return ""
	}
	return "\n  " + strings.Join(p.errors, "\n  ")
}

// lineWriter hands each non-blank line written to it, without its line ending, to onLine: child
// processes write in pieces that split lines anywhere.
type lineWriter struct {
	onLine func([]byte)
	buf    []byte
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	return len(b), nil
}

// Flush hands over a last line that had no newline.
func (l *lineWriter) Flush() {
	l.emit(l.buf)
	l.buf = nil
}

func (l *lineWriter) emit(raw []byte) {
	if raw = bytes.TrimRight(raw, "\r"); len(bytes.TrimSpace(raw)) > 0 {
		l.onLine(raw)
	}
}

// indented writes a child process's plain output to w, each line under the current step.
func indented(w io.Writer) *lineWriter {
	return &lineWriter{onLine: func(l []byte) { fmt.Fprintf(w, "    %s\n", l) }}
}
