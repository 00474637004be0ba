// Admin console, Directory import: upload a CSV, see what would happen row by row
// (errors, warnings, new or updated records), then import it or cancel. Nothing is
// stored before Import.
(function () {
  "use strict";
  var R = window.Ringside, A = R.admin, t = R.t, el = R.el;
  var form = document.getElementById("import-form");
  var file = document.getElementById("i-file");
  var preview = document.getElementById("preview");
  var apply = document.getElementById("apply");
  var pending = null; // the file previewed

  function issues(box, list) {
    var table = box.querySelector("table");
    box.hidden = !list.length;
    A.fill(table, list, function (e) {
      var tr = A.row([String(e.line), e.field || "", e.message]);
      tr.setAttribute("data-line", String(e.line));
      return tr;
    }, "");
  }
  function show(p) {
    var r = p.result || {};
    var sep = r.separator === "\t" ? t("admin.sep_tab") : r.separator;
    document.getElementById("pv-summary").textContent = t("admin.import_summary", { rows: r.rows, separator: sep, encoding: r.encoding });
    var n = { create: 0, update: 0, error: 0 };
    (p.items || []).forEach(function (it) { n[it.action] = (n[it.action] || 0) + 1; });
    document.getElementById("pv-counts").textContent = t("admin.import_counts", n);
    var errs = p.errors || [];
    A.say(document.getElementById("pv-verdict"), errs.length ? t("admin.import_has_errors") : t("admin.import_ready"), errs.length ? "error" : "ok");
    apply.disabled = errs.length > 0;
    issues(document.getElementById("pv-errors"), errs);
    document.getElementById("pv-more").textContent = p.more_errors ? t("admin.import_more_errors", { count: p.more_errors }) : "";
    issues(document.getElementById("pv-warnings"), p.warnings || []);
    A.fill(document.getElementById("pv-items"), p.items || [], function (it) {
      var act = el("span", t("admin.action_" + it.action), it.action === "error" ? "bad" : it.action === "update" ? "warn" : "good");
      var tr = A.row([String(it.line), it.type, it.name, it.email || "", (it.phones || []).join(", "), act]);
      tr.setAttribute("data-line", String(it.line));
      tr.setAttribute("data-action", it.action);
      if (it.issues && it.issues.length) tr.title = it.issues.join("; ");
      return tr;
    }, "");
    preview.hidden = false;
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = file.files && file.files[0];
    if (!f) { A.status(t("admin.import_choose"), "error"); return; }
    pending = f;
    A.status(t("admin.loading"));
    A.upload("/api/v1/admin/import/preview", f).then(function (p) { A.status(""); show(p); }, function (e) {
      preview.hidden = true;
      A.status(e.message, "error");
    });
  });
  apply.addEventListener("click", function () {
    if (!pending) return;
    apply.disabled = true;
    A.upload("/api/v1/admin/import", pending).then(function (r) {
      preview.hidden = true;
      pending = null;
      form.reset();
      A.status(t("admin.import_done", { contacts: r.contacts, leads: r.leads, accounts: r.accounts + r.accounts_created, updated: r.updated + r.accounts_updated }), "ok");
    }, function (e) {
      apply.disabled = false;
      A.status(e.message, "error");
    });
  });
  document.getElementById("import-cancel").addEventListener("click", function () {
    preview.hidden = true;
    pending = null;
    form.reset();
    A.status(t("admin.import_cancelled"), "ok");
  });
})();
