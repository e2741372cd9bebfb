package serve

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"

	"github.com/refarch/refarch/web"
)

// Cookie names. The session cookie holds a value derived from the admin
// token, never the token itself; the CSRF cookie is the double-submit
// secret that every UI write must echo.
const (
	sessionCookie = "refarch_session"
	csrfCookie    = "refarch_csrf"
	csrfHeader    = "X-CSRF-Token"
)

// authEnabled reports whether writes need the admin token.
func (s *Server) authEnabled() bool { return s.cfg.AdminToken != "" }

// sessionValue is what a signed-in browser's cookie holds.
func (s *Server) sessionValue() string {
	m := hmac.New(sha256.New, []byte(s.cfg.AdminToken))
	m.Write([]byte("refarch-session-v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// equal compares secrets in constant time, whatever their lengths.
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// bearerOK reports whether the request carries the admin token as a bearer.
func (s *Server) bearerOK(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && equal(strings.TrimSpace(tok), s.cfg.AdminToken)
}

// signedIn reports whether the browser holds a valid session cookie.
func (s *Server) signedIn(r *http.Request) bool {
	c, err := r.Cookie(sessionCookie)
	return err == nil && equal(c.Value, s.sessionValue())
}

// canWriteUI reports whether the visitor may edit through the UI.
func (s *Server) canWriteUI(r *http.Request) bool { return !s.authEnabled() || s.signedIn(r) }

// requireToken guards an API write: with an admin token set, the request
// needs it as a bearer token.
func (s *Server) requireToken(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.authEnabled() && !s.bearerOK(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="refarch"`)
			writeJSON(w, http.StatusUnauthorized, apiError{Error: "writes need the admin token: send Authorization: Bearer <REFARCH_ADMIN_TOKEN>"})
			return
		}
		h(w, r)
	}
}

// requireUIWrite guards a UI write: the CSRF secret must be echoed, and with
// an admin token set the visitor must be signed in.
func (s *Server) requireUIWrite(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.csrfOK(r) {
			s.refuse(w, r, http.StatusForbidden, "This form has expired or came from another site. Reload the page and try again.")
			return
		}
		if !s.canWriteUI(r) {
			if r.Header.Get("HX-Request") == "true" {
				w.Header().Set("HX-Redirect", "/login")
			}
			s.refuse(w, r, http.StatusUnauthorized, "Sign in with the admin token to change products.")
			return
		}
		h(w, r)
	}
}

// csrfOK checks the double-submit secret: the cookie must be matched by the
// X-CSRF-Token header (htmx) or the csrf form field (plain forms).
func (s *Server) csrfOK(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) < 32 {
		return false
	}
	sent := r.Header.Get(csrfHeader)
	if sent == "" {
		sent = r.PostFormValue("csrf")
	}
	return sent != "" && equal(sent, c.Value)
}

// session returns what the page templates need, issuing a CSRF secret to a
// first-time visitor.
func (s *Server) session(w http.ResponseWriter, r *http.Request) web.Session {
	tok := ""
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		tok = c.Value
	} else {
		var b [32]byte
		rand.Read(b[:])
		tok = hex.EncodeToString(b[:])
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
	}
	sess := web.Session{CSRF: tok, AuthEnabled: s.authEnabled(), CanWrite: s.canWriteUI(r)}
	if r.Method == http.MethodGet && !isHTMX(r) {
		sess.Here = r.URL.RequestURI()
	}
	return sess
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	sess := s.session(w, r)
	s.render(w, r, http.StatusOK, web.Login(sess, "", safeNext(r.URL.Query().Get("next"))))
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	sess := s.session(w, r)
	if !s.csrfOK(r) {
		s.render(w, r, http.StatusForbidden, web.Login(sess, "This form has expired. Please try again.", safeNext(r.PostFormValue("next"))))
		return
	}
	if !s.authEnabled() {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !equal(r.PostFormValue("token"), s.cfg.AdminToken) {
		s.deps.Log.WarnContext(r.Context(), "failed sign-in", "remote", r.RemoteAddr)
		s.render(w, r, http.StatusUnauthorized, web.Login(sess, "That token is not right.", safeNext(r.PostFormValue("next"))))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.sessionValue(), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r), MaxAge: 12 * 3600})
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !s.csrfOK(r) {
		s.refuse(w, r, http.StatusForbidden, "This form has expired. Reload the page and try again.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if next == "" || err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "/"
	}
	return next
}

// refuse answers a refused UI request with a page (or a bare status for htmx,
// which does not swap errors).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if r.Header.Get("HX-Request") == "true" {
		http.Error(w, msg, code)
		return
	}
	s.render(w, r, code, web.ErrorPage(s.session(w, r), http.StatusText(code), msg))
}

// isHTTPS reports whether the browser reached us over HTTPS, directly or
// through the load balancer that terminates TLS, so cookies are marked Secure.
func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
