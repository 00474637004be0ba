// Admin console, Tokens: list, create (the secret shown once), revoke.
(function () {
  "use strict";
  var R = window.Ringside, A = R.admin, t = R.t, F = R.fmt;
  var table = document.getElementById("tokens");
  var form = document.getElementById("token-form");
  var userSel = document.getElementById("t-user");

  function load() {
    return A.api("GET", "/api/v1/admin/tokens").then(function (j) {
      A.fill(table, j.tokens || [], tokenRow, t("admin.no_tokens"));
    }, function (e) { A.status(t("admin.failed", { reason: e.message }), "error"); });
  }
  function tokenRow(k) {
    var revoke = A.confirmButton(t("admin.revoke"), "small revoke", function (b) {
      b.disabled = true;
      A.api("POST", "/api/v1/admin/tokens/" + k.id + "/revoke").then(function () {
        A.status(t("admin.revoked", { id: k.id }), "ok");
        return load();
      }, function (e) { b.disabled = false; A.status(A.errorText(e), "error"); });
    });
    var tr = A.row([String(k.id), k.name || "", k.scope, k.user || "", F.full(k.created_at), k.expires_at ? F.full(k.expires_at) : t("admin.never"), k.last_used_at ? F.when(k.last_used_at) : t("admin.never"), revoke]);
    tr.setAttribute("data-token", String(k.id));
    return tr;
  }
  function users() {
    return A.api("GET", "/api/v1/admin/users").then(function (j) {
      userSel.replaceChildren();
      (j.users || []).forEach(function (u) {
        var o = document.createElement("option");
        o.value = u.name;
        o.textContent = u.name;
        userSel.appendChild(o);
      });
    }, function () {});
  }
  function scopeChanged() {
    var pbx = form.elements.scope.value === "pbx";
    userSel.disabled = pbx;
  }
  form.elements.scope.addEventListener("change", scopeChanged);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = form.elements, st = form.querySelector(".form-status");
    var body = { name: f.name.value.trim(), scope: f.scope.value, user: f.scope.value === "pbx" ? "" : f.user.value, expires_days: parseInt(f.expires_days.value, 10) || 0 };
    A.hideSecret();
    A.say(st, "");
    A.api("POST", "/api/v1/admin/tokens", body).then(function (j) {
      A.showSecret(t("admin.token_created", { name: j.token.name, secret: j.secret }));
      form.reset();
      scopeChanged();
      return load();
    }, function (e) { A.say(st, A.errorText(e), "error"); });
  });
  users().then(scopeChanged);
  load();
})();
