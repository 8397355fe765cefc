// Package sessionmanager is the domain of Magic Session Manager: the types of
// users, sessions, events and alerts, the small interfaces that adapters
// implement (stores, geo resolvers, buses, token services), and the Manager
// that ties them into a login, refresh and force-logout pipeline.
//
// The package imports no driver and no other package of this module;
// adapters (store/sqlite, store/postgres, token, geo, risk, alert, cluster,
// httpapi) import it, and cmd/sessionmanager wires them together.
package sessionmanager
