// Admin console, Live board: every call in progress (the /api/v1/admin/live stream),
// with how long it has rung or been talking; the times run in the browser, corrected by
// the server's clock.
(function () {
  "use strict";
  var R = window.Ringside, t = R.t, el = R.el, F = R.fmt;
  var board = document.getElementById("board");
  var state = document.getElementById("live-state");
  var count = document.getElementById("live-count");
  var empty = document.getElementById("live-empty");
  var skew = 0; // server time minus browser time, ms
  var calls = [];
  var byExt = {}; // extension → the names of its users

  function conn(s, key) { state.setAttribute("data-state", s); state.textContent = t(key); }
  function who(l) {
    var names = l.user ? [l.user] : (byExt[l.extension] || []);
    return names.length ? names.join(", ") + " (" + l.extension + ")" : l.extension;
  }

  // phase is what a call is doing: talking, ringing, dialing, or queued (ringing with
  // no phone ringing yet).
  function phase(c) {
    if (c.state === "answered") return "answered";
    if (c.state === "dialing") return "dialing";
    var ringing = (c.legs || []).some(function (l) { return l.state === "ringing"; });
    return ringing ? "ringing" : "queued";
  }
  function since(c, p) {
    if (p === "answered" && c.answered_at) return c.answered_at;
    return c.started_at;
  }
  function caller(c) {
    var r = c.remote || {};
    if (r.withheld) return t("admin.live_withheld");
    return [r.name, r.number || r.raw].filter(Boolean).join(" · ");
  }
  function card(c) {
    var p = phase(c);
    var li = el("li", null, "card live-call");
    li.setAttribute("data-call-id", c.id);
    li.setAttribute("data-pbx-id", c.pbx_id || c.id);
    li.setAttribute("data-state", p);
    var head = el("div", null, "card-head");
    var badge = el("p", null, "state");
    badge.appendChild(el("span", t("admin.live_" + p), "badge"));
    badge.appendChild(document.createTextNode(" "));
    badge.appendChild(el("span", t("admin.dir_" + (c.direction || "inbound")), "dir muted"));
    head.appendChild(badge);
    var timer = el("p", "", "timer");
    timer.setAttribute("data-since", since(c, p));
    head.appendChild(timer);
    li.appendChild(head);
    li.appendChild(el("p", caller(c), "caller"));
    var legs = c.legs || [];
    var line = "";
    if (p === "answered") {
      var a = legs.filter(function (l) { return l.state === "answered"; }).map(who);
      if (!a.length && c.answered_by) a = [who({ extension: c.answered_by })];
      line = a.length ? t("admin.live_with", { who: a.join(", ") }) : "";
    } else {
      var r = legs.filter(function (l) { return l.state === "ringing" || l.state === "dialing"; }).map(who);
      line = r.length ? t("admin.live_at", { who: r.join(", ") }) : "";
    }
    if (line) li.appendChild(el("p", line, "legs"));
    if (c.did) li.appendChild(el("p", t("admin.live_to") + " " + c.did, "did muted"));
    return li;
  }
  function tick() {
    var now = Date.now() + skew;
    board.querySelectorAll(".timer").forEach(function (n) {
      var s = Date.parse(n.getAttribute("data-since"));
      n.textContent = isNaN(s) ? "" : F.duration(now - s);
    });
  }
  function render() {
    board.replaceChildren();
    calls.forEach(function (c) { board.appendChild(card(c)); });
    empty.hidden = calls.length > 0;
    count.textContent = calls.length ? t("admin.live_count", { count: calls.length }) : "";
    tick();
  }
  function open() {
    var es = new EventSource("/api/v1/admin/live");
    conn("connecting", "admin.live_connecting");
    es.addEventListener("open", function () { conn("connected", "admin.live_connected"); });
    es.addEventListener("board", function (ev) {
      var b;
      try { b = JSON.parse(ev.data); } catch (e) { return; }
      conn("connected", "admin.live_connected");
      if (b.at) skew = Date.parse(b.at) - Date.now();
      calls = b.calls || [];
      render();
    });
    es.addEventListener("error", function () {
      conn("disconnected", "admin.live_lost");
      if (es.readyState === EventSource.CLOSED) {
        setTimeout(open, 3000);
      }
    });
  }
  R.admin.api("GET", "/api/v1/admin/users").then(function (j) {
    (j.users || []).forEach(function (u) {
      (u.extensions || []).forEach(function (e) { (byExt[e] = byExt[e] || []).push(u.name); });
    });
  }, function () {}).then(open);
  setInterval(tick, 1000);
})();
