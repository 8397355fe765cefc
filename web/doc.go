// Package web is the admin dashboard of Magic Session Manager: server-rendered
// pages (html/template + htmx, vendored) served under /admin/ by the same
// binary, with every asset embedded. See docs/DASHBOARD.md.
package web
