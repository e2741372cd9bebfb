package serve

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/refarch/refarch/web"
)

// IndexAdmin changes the index generations: the status page's create,
// promote and drop, the same actions as `refarch index`. app implements it
// with serve's own database user.
type IndexAdmin interface {
	// Create records a building generation and returns its name.
	Create(ctx context.Context, spec IndexSpec) (string, error)
	// Promote makes a complete generation (any, with force) active.
	Promote(ctx context.Context, name string, force bool) error
	// Drop stops every worker writing a generation that is not active;
	// its vectors and state are deleted behind (by emu).
	Drop(ctx context.Context, name string) error
	// Defaults are what the create form starts from: the configured embedder.
	Defaults() IndexSpec
}

// IndexSpec is a new generation's embedder.
type IndexSpec struct {
	Embedder    string
	HashDim     int
	OllamaModel string
	AutoPromote bool
}

// IndexRefusal is an action refused for a reason the operator can act on
// (an incomplete generation, the active one, a bad option); Code is the
// HTTP status to answer with.
type IndexRefusal struct {
	Code   int
	Reason string
}

func (e *IndexRefusal) Error() string { return e.Reason }

// Embedders the create form offers.
var indexEmbedders = []string{"use", "hash", "ollama"}

func (s *Server) indexRoutes(mux *http.ServeMux) {
	s.handle(mux, "POST /ui/index", s.requireUIWrite(s.createGeneration))
	s.handle(mux, "POST /ui/index/{name}/promote", s.requireUIWrite(s.promoteGeneration))
	s.handle(mux, "POST /ui/index/{name}/drop", s.requireUIWrite(s.dropGeneration))
}

// indexAdminView is what the status page shows of the actions.
func (s *Server) indexAdminView(r *http.Request, sess web.Session) web.IndexAdmin {
	if s.deps.Index == nil {
		return web.IndexAdmin{}
	}
	d := s.deps.Index.Defaults()
	return web.IndexAdmin{Enabled: true, CanWrite: s.canWriteUI(r), CSRF: sess.CSRF, Embedders: indexEmbedders,
		DefaultEmbedder: d.Embedder, DefaultHashDim: d.HashDim, DefaultOllamaModel: d.OllamaModel}
}

func (s *Server) createGeneration(w http.ResponseWriter, r *http.Request) {
	if !s.indexAvailable(w, r) {
		return
	}
	spec := IndexSpec{Embedder: strings.TrimSpace(r.PostFormValue("embedder")), OllamaModel: strings.TrimSpace(r.PostFormValue("ollama_model")),
		AutoPromote: r.PostFormValue("auto_promote") == "on"}
	if v := strings.TrimSpace(r.PostFormValue("hash_dim")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.indexRefused(w, r, &IndexRefusal{Code: http.StatusBadRequest, Reason: "Dimensions must be a whole number, like 256."})
			return
		}
		spec.HashDim = n
	}
	name, err := s.deps.Index.Create(r.Context(), spec)
	if err != nil {
		s.indexFailed(w, r, "create an index generation", err)
		return
	}
	s.indexDone(w, r, "created", name)
}

func (s *Server) promoteGeneration(w http.ResponseWriter, r *http.Request) {
	if !s.indexAvailable(w, r) {
		return
	}
	name := r.PathValue("name")
	if err := s.deps.Index.Promote(r.Context(), name, r.PostFormValue("force") == "on"); err != nil {
		s.indexFailed(w, r, "promote an index generation", err)
		return
	}
	s.indexDone(w, r, "promoted", name)
}

func (s *Server) dropGeneration(w http.ResponseWriter, r *http.Request) {
	if !s.indexAvailable(w, r) {
		return
	}
	name := r.PathValue("name")
	if err := s.deps.Index.Drop(r.Context(), name); err != nil {
		s.indexFailed(w, r, "drop an index generation", err)
		return
	}
	s.indexDone(w, r, "dropped", name)
}

func (s *Server) indexAvailable(w http.ResponseWriter, r *http.Request) bool {
	if s.deps.Index == nil {
		s.refuse(w, r, http.StatusNotImplemented, "Index generations cannot be changed from this server.")
		return false
	}
	return true
}

// indexDone sends the browser back to the status page, which says what
// happened (a redirect, so that a reload does not post again).
func (s *Server) indexDone(w http.ResponseWriter, r *http.Request, done, name string) {
	http.Redirect(w, r, "/status?"+url.Values{"done": {done}, "generation": {name}}.Encode(), http.StatusSeeOther)
}

func (s *Server) indexFailed(w http.ResponseWriter, r *http.Request, action string, err error) {
	var ref *IndexRefusal
	if errors.As(err, &ref) {
		s.indexRefused(w, r, ref)
		return
	}
	s.deps.Log.ErrorContext(r.Context(), "index generation action failed", "action", action, "err", err)
	s.indexRefused(w, r, &IndexRefusal{Code: http.StatusInternalServerError, Reason: "Could not " + action + ": " + err.Error()})
}

// indexRefused shows the status page with the reason, under the refusal's
// status code.
func (s *Server) indexRefused(w http.ResponseWriter, r *http.Request, ref *IndexRefusal) {
	s.renderStatus(w, r, ref.Code, "", ref.Reason)
}

// doneNotice is the status page's line after an action.
func doneNotice(q url.Values) string {
	name := q.Get("generation")
	if name == "" {
		return ""
	}
	switch q.Get("done") {
	case "created":
		return "Generation " + name + " is building: its backfill has started."
	case "promoted":
		return "Generation " + name + " is active: searches use it from now on."
	case "dropped":
		return "Generation " + name + " is being dropped: no worker writes it any more, and emu deletes its vectors."
	}
	return ""
}
