// Admin console, People: list, add (password shown once), edit extensions, email and
// the admin right, disable/enable, reset password, remove.
(function () {
  "use strict";
  var R = window.Ringside, A = R.admin, t = R.t, el = R.el;
  var table = document.getElementById("people");
  var form = document.getElementById("user-form");
  var edit = document.getElementById("edit-user");
  var editForm = document.getElementById("edit-form");
  var editing = "";

  function exts(s) { return String(s || "").split(/[,;\s]+/).filter(Boolean); }

  function load() {
    return A.api("GET", "/api/v1/admin/users").then(function (j) {
      A.fill(table, j.users || [], userRow, t("admin.no_people"));
    }, function (e) { A.status(t("admin.failed", { reason: e.message }), "error"); });
  }

  function act(u, method, suffix, done) {
    return function (b) {
      b.disabled = true;
      A.api(method, "/api/v1/admin/users/" + encodeURIComponent(u.name) + suffix).then(function (j) {
        A.hideSecret();
        done(j);
        return load();
      }, function (e) {
        b.disabled = false;
        A.status(A.errorText(e), "error");
      });
    };
  }

  function userRow(u) {
    var actions = el("div", null, "row-buttons");
    actions.appendChild(R.button(t("admin.edit"), "small edit", function () { openEdit(u); }));
    if (u.disabled) {
      actions.appendChild(R.button(t("admin.enable"), "small enable", act(u, "POST", "/enable", function () { A.status(t("admin.enabled", { name: u.name }), "ok"); })));
    } else {
      actions.appendChild(A.confirmButton(t("admin.disable"), "small disable", act(u, "POST", "/disable", function () { A.status(t("admin.disabled", { name: u.name }), "ok"); })));
    }
    actions.appendChild(A.confirmButton(t("admin.reset_password"), "small reset", act(u, "POST", "/password", function (j) {
      A.status("", "");
      A.showSecret(t("admin.password_reset", { name: u.name, password: j.password }));
    })));
    actions.appendChild(A.confirmButton(t("admin.remove"), "small remove", act(u, "DELETE", "", function () { A.status(t("admin.removed", { name: u.name }), "ok"); })));
    var state = el("span", u.disabled ? t("admin.state_disabled") : t("admin.state_active"), u.disabled ? "bad" : "");
    var conn = el("span", u.connected ? t("admin.connected_now") : t("admin.not_connected"), u.connected ? "good" : "muted");
    var tr = A.row([el("strong", u.name), (u.extensions || []).join(", "), u.email || "", u.admin ? t("admin.role_admin") : t("admin.role_agent"), state, conn, u.last_seen_at ? R.fmt.when(u.last_seen_at) : t("admin.never"), actions]);
    tr.setAttribute("data-user", u.name);
    tr.setAttribute("data-state", u.disabled ? "disabled" : "active");
    return tr;
  }

  function openEdit(u) {
    editing = u.name;
    document.getElementById("edit-h").textContent = t("admin.edit_heading", { name: u.name });
    editForm.elements.extensions.value = (u.extensions || []).join(", ");
    editForm.elements.email.value = u.email || "";
    editForm.elements.admin.checked = !!u.admin;
    editForm.elements.shared.checked = false;
    A.say(editForm.querySelector(".form-status"), "");
    edit.hidden = false;
    editForm.elements.extensions.focus();
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = form.elements, st = form.querySelector(".form-status");
    var body = { name: f.name.value.trim(), extensions: exts(f.extensions.value), email: f.email.value.trim(), admin: f.admin.checked, shared: f.shared.checked, password: f.password.value };
    A.hideSecret();
    A.say(st, "");
    A.api("POST", "/api/v1/admin/users", body).then(function (j) {
      if (j.password) A.showSecret(t("admin.added_password", { name: j.user.name, password: j.password }));
      A.status(t("admin.added", { name: j.user.name }), "ok");
      form.reset();
      return load();
    }, function (e) {
      A.say(st, A.errorText(e), "error");
      var field = e.body && e.body.field;
      if (field && f[field]) f[field].focus();
    });
  });

  editForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = editForm.elements, st = editForm.querySelector(".form-status");
    var body = { extensions: exts(f.extensions.value), email: f.email.value.trim(), admin: f.admin.checked, shared: f.shared.checked };
    A.api("PATCH", "/api/v1/admin/users/" + encodeURIComponent(editing), body).then(function () {
      edit.hidden = true;
      A.status(t("admin.saved"), "ok");
      return load();
    }, function (e) { A.say(st, A.errorText(e), "error"); });
  });
  document.getElementById("edit-cancel").addEventListener("click", function () { edit.hidden = true; });

  A.status(t("admin.loading"));
  load().then(function () { if (document.getElementById("status").textContent === t("admin.loading")) A.status(""); });
})();
