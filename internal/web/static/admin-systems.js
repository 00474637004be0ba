// Admin console, Phone systems: each part's state (GET /api/v1/admin/systems), every
// five seconds.
(function () {
  "use strict";
  var R = window.Ringside, A = R.admin, t = R.t, el = R.el;
  var table = document.getElementById("systems");

  // word is a state in the page's words: up, standby, or down with the reason.
  function word(s) {
    var st = s.state || (s.up ? "up" : "down");
    if (st === "up") return { text: t("admin.up"), cls: "good", why: s.cause || "" };
    if (st === "standby") return { text: t("admin.standby"), cls: "muted", why: s.cause || "" };
    var why = st.replace(/^down:?\s*/, "") || s.cause || "";
    return { text: s.up ? t("admin.up") : t("admin.down"), cls: s.up ? "good" : "bad", why: why };
  }
  // syncText is the CRM's phone index in words: the sync under way, or complete or not,
  // and the last error.
  function syncText(y) {
    var n = R.fmt.number, parts = [];
    if (y.running) parts.push(y.total ? t("admin.sync_running", { done: n(y.done), total: n(y.total) }) : t("admin.sync_running_count", { done: n(y.done) }));
    else if (y.ready) parts.push(t("admin.sync_ready", { records: n(y.records), when: R.fmt.when(y.finished) }));
    else parts.push(t("admin.sync_not_ready", { records: n(y.records) }));
    if (y.last_error) parts.push(t("admin.sync_error", { when: R.fmt.when(y.last_error_at), error: y.last_error }));
    return parts.join(" · ");
  }
  function load() {
    return A.api("GET", "/api/v1/admin/systems").then(function (j) {
      A.status("");
      A.fill(table, j.systems || [], function (s) {
        var w = word(s), why = w.why;
        if (s.sync) why = why ? why + " · " + syncText(s.sync) : syncText(s.sync);
        var phone = typeof s.events_last_minute === "number";
        var tr = A.row([el("strong", s.name), el("span", w.text, w.cls), why,
          s.since ? R.fmt.when(s.since) : "",
          phone ? R.fmt.number(s.events_last_minute) : "",
          s.last_event ? R.fmt.time(s.last_event, true) : ""]);
        ["part", "state", "why", "since", "events", "last"].forEach(function (c, i) { tr.children[i].className = c; });
        tr.setAttribute("data-part", s.name);
        tr.setAttribute("data-up", s.up ? "1" : "0");
        return tr;
      }, t("admin.no_systems"));
    }, function (e) { A.status(t("admin.failed", { reason: e.message }), "error"); });
  }
  document.getElementById("refresh").addEventListener("click", load);
  // Test connections: connect to each phone system and the CRM once (as config check
  // --connect does) and list what failed.
  var check = document.getElementById("check");
  check.addEventListener("click", function () {
    var box = document.getElementById("check-result"), verdict = document.getElementById("check-verdict"), list = document.getElementById("check-problems");
    check.disabled = true;
    box.hidden = false;
    list.replaceChildren();
    A.say(verdict, t("admin.checking"));
    A.api("POST", "/api/v1/admin/systems/check").then(function (j) {
      A.say(verdict, j.ok ? t("admin.check_ok") : t("admin.check_failed"), j.ok ? "ok" : "error");
      (j.problems || []).forEach(function (p) { list.appendChild(el("li", p)); });
    }, function (e) { A.say(verdict, e.message, "error"); }).then(function () { check.disabled = false; });
  });
  load();
  setInterval(function () { if (!document.hidden) load(); }, 5000);
})();
