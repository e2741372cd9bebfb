package serve

import (
	_ "embed"
	"net/http"
)

// openAPI documents every route; TestOpenAPIListsEveryRouteAndField keeps it
// complete.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
