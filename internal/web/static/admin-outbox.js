// Admin console, Outbox: CRM writes waiting or parked, with the destination's error;
// retry a parked one, or drop it.
(function () {
  "use strict";
  var R = window.Ringside, A = R.admin, t = R.t, el = R.el, F = R.fmt;
  var table = document.getElementById("outbox");
  var parked = document.getElementById("parked-only");

  function load() {
    return A.api("GET", "/api/v1/outbox" + (parked.checked ? "?state=parked" : "")).then(function (j) {
      A.fill(table, j.items || [], itemRow, t("admin.outbox_empty"));
    }, function (e) { A.status(t("admin.failed", { reason: e.message }), "error"); });
  }
  function itemRow(it) {
    var actions = el("div", null, "row-buttons");
    if (it.state === "parked") {
      actions.appendChild(R.button(t("admin.retry"), "small retry", function (ev) {
        var b = ev.currentTarget;
        b.disabled = true;
        A.api("POST", "/api/v1/outbox/" + it.id + "/retry").then(function () {
          A.status(t("admin.retried", { id: it.id }), "ok");
          return load();
        }, function (e) { b.disabled = false; A.status(A.errorText(e), "error"); });
      }));
    }
    actions.appendChild(A.confirmButton(t("admin.drop"), "small drop", function (b) {
      b.disabled = true;
      A.api("DELETE", "/api/v1/outbox/" + it.id).then(function () {
        A.status(t("admin.dropped", { id: it.id }), "ok");
        return load();
      }, function (e) { b.disabled = false; A.status(A.errorText(e), "error"); });
    }));
    var st = el("span", t("admin.state_" + it.state), it.state === "parked" ? "bad" : "");
    var what = el("span");
    what.appendChild(el("strong", it.kind));
    what.appendChild(el("br"));
    what.appendChild(el("span", it.key, "muted small"));
    var tr = A.row([String(it.id), st, what, String(it.attempts), it.next_at ? F.full(it.next_at) : "", el("span", it.last_error || "", "err-text"), actions]);
    tr.setAttribute("data-item", String(it.id));
    tr.setAttribute("data-state", it.state);
    return tr;
  }
  parked.addEventListener("change", load);
  document.getElementById("refresh").addEventListener("click", load);
  load();
})();
