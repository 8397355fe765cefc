// Package api holds the OpenAPI 3.1 document of the HTTP API, embedded so
// the binary serves it at GET /api/openapi.json.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document (openapi.json) of the whole API.
//
//go:embed openapi.json
var OpenAPI []byte
