// Admin console, Audit log: every admin action, newest first, fifty at a time.
(function () {
  "use strict";
  var R = window.Ringside, A = R.admin, t = R.t, F = R.fmt;
  var table = document.getElementById("audit");
  var more = document.getElementById("more");
  var last = 0, shown = [];
  var page = 50;

  function entryRow(e) {
    var tr = A.row([F.full(e.at), e.actor, e.action, e.target || "", e.detail || "", e.remote || ""]);
    tr.setAttribute("data-action", e.action);
    return tr;
  }
  function load() {
    return A.api("GET", "/api/v1/admin/audit?limit=" + page + (last ? "&before=" + last : "")).then(function (j) {
      var es = j.entries || [];
      shown = shown.concat(es);
      if (es.length) last = es[es.length - 1].id;
      more.hidden = es.length < page;
      A.fill(table, shown, entryRow, t("admin.audit_empty"));
    }, function (e) { A.status(t("admin.failed", { reason: e.message }), "error"); });
  }
  more.addEventListener("click", load);
  load();
})();
