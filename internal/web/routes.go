package web

import "net/http"

// routes lists every route of Ringside in one place.
func (w *Web) routes() {
	m := w.mux
	// Phone systems.
	m.Handle("POST /api/v1/events", w.events(""))
	m.Handle("POST /api/v1/events/{source}", w.eventsNamed())
	// Agents (token or browser session).
	m.HandleFunc("GET /api/v1/stream", w.agentOnly(w.stream))
	m.HandleFunc("GET /api/v1/lookup", w.agentOnly(w.lookupNumber))
	m.HandleFunc("GET /api/v1/caller", w.agentOnly(w.caller))
	m.HandleFunc("GET /api/v1/calls", w.agentOnly(w.listCalls))
	m.HandleFunc("GET /api/v1/calls/{id}", w.agentOnly(w.getCall))
	m.HandleFunc("POST /api/v1/calls/{id}/regarding", w.agentOnly(w.setRegarding))
	m.HandleFunc("POST /api/v1/dial", w.agentOnly(w.dial))
	m.HandleFunc("GET /api/v1/companion", w.agentOnly(w.companion))
	m.HandleFunc("POST /api/v1/companion/{action}", w.agentOnly(w.companionControl))
	m.HandleFunc("POST /api/v1/records", w.agentOnly(w.createRecord))
	m.HandleFunc("POST /api/v1/activities", w.agentOnly(w.saveActivity))
	m.HandleFunc("GET /api/v1/me", w.agentOnly(w.me))
	m.HandleFunc("POST /api/v1/me/settings", w.agentOnly(w.saveSettings))
	// Administrators.
	m.HandleFunc("GET /api/v1/outbox", w.adminOnly(w.listOutbox))
	m.HandleFunc("POST /api/v1/outbox/{id}/retry", w.adminOnly(w.retryOutbox))
	m.HandleFunc("DELETE /api/v1/outbox/{id}", w.adminOnly(w.dropOutbox))
	m.HandleFunc("GET /api/v1/rules", w.adminOnly(w.listRules))
	m.HandleFunc("GET /api/v1/admin/users", w.adminOnly(w.adminUsers))
	m.HandleFunc("POST /api/v1/admin/users", w.adminOnly(w.adminAddUser))
	m.HandleFunc("PATCH /api/v1/admin/users/{name}", w.adminOnly(w.adminEditUser))
	m.HandleFunc("DELETE /api/v1/admin/users/{name}", w.adminOnly(w.adminRemoveUser))
	m.HandleFunc("POST /api/v1/admin/users/{name}/disable", w.adminOnly(w.adminUserState(true)))
	m.HandleFunc("POST /api/v1/admin/users/{name}/enable", w.adminOnly(w.adminUserState(false)))
	m.HandleFunc("POST /api/v1/admin/users/{name}/password", w.adminOnly(w.adminResetPassword))
	m.HandleFunc("GET /api/v1/admin/tokens", w.adminOnly(w.adminTokens))
	m.HandleFunc("POST /api/v1/admin/tokens", w.adminOnly(w.adminCreateToken))
	m.HandleFunc("POST /api/v1/admin/tokens/{id}/revoke", w.adminOnly(w.adminRevokeToken))
	m.HandleFunc("GET /api/v1/admin/stats", w.adminOnly(w.adminStats))
	m.HandleFunc("POST /api/v1/admin/import/preview", w.adminOnly(w.adminImportPreview))
	m.HandleFunc("POST /api/v1/admin/import", w.adminOnly(w.adminImport))
	m.HandleFunc("GET /api/v1/admin/audit", w.adminOnly(w.adminAudit))
	m.HandleFunc("GET /api/v1/admin/live", w.adminOnly(w.adminLive))
	m.HandleFunc("GET /api/v1/admin/systems", w.adminOnly(w.adminSystems))
	m.HandleFunc("POST /api/v1/admin/systems/check", w.adminOnly(w.adminCheckSystems))
	// Operations.
	m.HandleFunc("GET /api/v1/openapi.json", w.openAPI)
	m.HandleFunc("GET /healthz", w.healthz)
	m.HandleFunc("GET /readyz", w.readyz)
	if w.d.Metrics != nil {
		m.Handle("GET /metrics", w.metricsGuard(w.d.Metrics))
	}
	// The agent UI.
	m.HandleFunc("GET /{$}", w.agentPage)
	m.HandleFunc("GET /login", w.loginPage)
	m.HandleFunc("POST /login", w.loginSubmit)
	m.HandleFunc("POST /logout", w.logout)
	m.HandleFunc("GET /crm/{entity}/{id}", w.recordPage)
	m.HandleFunc("GET /admin", w.adminPage)
	m.HandleFunc("GET /admin/{page}", w.adminPage)
	m.HandleFunc("GET /static/{hash}/{name}", w.serveStatic)
	m.HandleFunc("GET /favicon.ico", func(rw http.ResponseWriter, r *http.Request) { rw.WriteHeader(http.StatusNoContent) })
}
