// Ringside agent page. Every caller- or CRM-supplied string goes into the page with
// textContent, never as HTML: caller names are hostile input.
(function () {
  "use strict";
  var app = document.getElementById("app");
  if (!app) return;
  var csrf = app.dataset.csrf;
  var me = app.dataset.user;
  var cards = document.getElementById("cards");
  var tpl = document.getElementById("card-tpl");
  var conn = document.getElementById("conn");
  var calls = {}; // call id → {el, msg, notesSaved}
  var settings = {};
  var popupWarned = false;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function cut(s, n) {
    s = String(s || "");
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  }
  function api(method, path, body) {
    var opts = { method: method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
        return j;
      });
    });
  }
  function dur(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    var m = Math.floor(s / 60);
    return m + ":" + String(s % 60).padStart(2, "0");
  }
  function who(msg) {
    var m = msg.matches && msg.matches[0];
    if (m) return m.name;
    if (msg.call.remote.withheld) return "Withheld number";
    return msg.call.remote.name ? cut(msg.call.remote.name, 80) : "Unknown caller";
  }
  function dirText(c) {
    return { inbound: "Incoming", outbound: "Outgoing", internal: "Internal" }[c.direction] || c.direction;
  }

  // ---- cards ----
  function stateOf(msg) {
    var c = msg.call;
    var leg = msg.leg;
    if (msg.type === "call.missed" || c.missed) return ["missed", "Missed call"];
    if (msg.type === "call.not_answered") return ["missed", "Not answered"];
    if (c.state === "ended") return ["ended", "Ended"];
    if (msg.type === "call.withdrawn" && leg && leg.cause === "answered_elsewhere")
      return ["elsewhere", "Answered by " + (msg.answered_by_user || ("ext. " + c.answered_by))];
    if (c.state === "answered") return ["answered", "Answered" + (msg.answered_by_user && msg.answered_by_user !== me ? " by " + msg.answered_by_user : "")];
    if (c.state === "dialing") return ["ringing", "Dialing…"];
    return ["ringing", "Ringing…"];
  }

  function render(id) {
    var st = calls[id];
    var msg = st.msg;
    var e = st.el;
    var s = stateOf(msg);
    e.dataset.state = s[0];
    e.querySelector(".badge").textContent = s[1];
    e.querySelector(".dir").textContent = dirText(msg.call);
    e.querySelector(".caller").textContent = who(msg);
    var raw = msg.call.remote.raw || "";
    e.querySelector(".number").textContent = msg.call.remote.withheld ? "" : cut(raw, 64) + (msg.call.remote.number && msg.call.remote.number !== raw ? "  ·  " + msg.call.remote.number : "");
    var lk = e.querySelector(".lookup");
    lk.textContent = msg.lookup === "pending" ? "Looking the caller up in the CRM…" : msg.lookup === "failed" ? "The CRM did not answer; the caller may be known." : "";
    var ol = e.querySelector(".matches");
    ol.textContent = "";
    (msg.matches || []).forEach(function (m, i) {
      var li = el("li", null, "match");
      li.appendChild(el("span", m.entity, "entity"));
      li.appendChild(el("strong", m.name));
      if (m.company) li.appendChild(el("span", m.company, "company"));
      li.appendChild(el("span", m.number + (m.match === "suffix" ? " (similar number)" : ""), "stored"));
      if (st.regarding && st.regarding.id === m.id && st.regarding.entity === m.entity) li.appendChild(el("span", "✔ regarding", "chosen"));
      else if (i === 0 && msg.picked) li.appendChild(el("span", "your earlier choice", "chosen"));
      var open = el("a", "Open in CRM", "button");
      open.href = m.url || "#";
      open.target = "_blank";
      open.rel = "noopener";
      li.appendChild(open);
      if (msg.matches.length > 1) {
        var pick = el("button", "This is the caller");
        pick.type = "button";
        pick.addEventListener("click", function () {
          api("POST", "/api/v1/calls/" + encodeURIComponent(msg.call.id) + "/regarding", { entity: m.entity, id: m.id })
            .then(function () { st.regarding = { entity: m.entity, id: m.id }; render(id); })
            .catch(function (err) { lk.textContent = err.message; });
        });
        li.appendChild(pick);
      }
      ol.appendChild(li);
    });
    var create = e.querySelector(".create");
    var unknown = (!msg.matches || msg.matches.length === 0) && msg.lookup === "done" && !msg.call.remote.withheld;
    create.hidden = !unknown;
    if (unknown && !st.createFilled) {
      st.createFilled = true;
      var f = create.querySelector("form");
      var parts = (msg.call.remote.name || "").trim().split(/\s+/);
      if (parts.length > 1) { f.first_name.value = cut(parts[0], 100); f.last_name.value = cut(parts.slice(1).join(" "), 100); }
      else if (parts[0]) f.last_name.value = cut(parts[0], 100);
      f.phone.value = cut(raw, 64);
      create.querySelector(".e164").textContent = msg.call.remote.number ? "E.164: " + msg.call.remote.number : "";
    }
    var a = msg.call.answered_at && new Date(msg.call.answered_at);
    var end = msg.call.ended_at ? new Date(msg.call.ended_at) : new Date();
    e.querySelector(".dur").textContent = a && a.getFullYear() > 2000 ? dur(end - a) : "";
    e.querySelector(".subject").textContent = (msg.call.direction === "outbound" ? "Outgoing call to " : "Incoming call from ") + who(msg);
  }

  function cardFor(msg) {
    var id = msg.call.id;
    if (calls[id]) return calls[id];
    var node = tpl.content.firstElementChild.cloneNode(true);
    node.id = "call-" + id.replace(/[^A-Za-z0-9_-]/g, "_");
    node.dataset.callId = id;
    var st = { el: node, msg: msg };
    calls[id] = st;
    node.querySelector(".dismiss").addEventListener("click", function () { node.remove(); delete calls[id]; empty(); });
    node.querySelector(".create-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = ev.target;
      var body = { entity: f.entity.value, first_name: f.first_name.value, last_name: f.last_name.value,
        company: f.company.value, email: f.email.value, phone: f.phone.value, call_id: id };
      if (body.entity === "account") body.name = f.company.value || (f.first_name.value + " " + f.last_name.value).trim();
      var status = f.querySelector(".status");
      status.textContent = "Saving…";
      api("POST", "/api/v1/records", body).then(function (rec) {
        status.textContent = "Created " + rec.name + ".";
        st.msg.matches = [{ entity: rec.entity, id: rec.id, name: rec.name, company: rec.company, number: body.phone, url: rec.url, match: "exact" }];
        st.regarding = { entity: rec.entity, id: rec.id };
        render(id);
      }).catch(function (err) { status.textContent = err.message; });
    });
    node.querySelector(".notes-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var status = ev.target.querySelector(".status");
      status.textContent = "Saving…";
      api("POST", "/api/v1/activities", { call_id: id, notes: ev.target.notes.value, regarding: st.regarding || null })
        .then(function () { status.textContent = "Notes saved to the CRM queue."; st.notesSaved = true; loadHistory(); })
        .catch(function (err) { status.textContent = err.message; });
    });
    cards.prepend(node);
    empty();
    return st;
  }
  function empty() { document.getElementById("no-calls").hidden = cards.children.length > 0; }

  function onMessage(msg) {
    if (!msg || !msg.type) return;
    if (msg.type === "hello") return;
    if (!msg.call) return;
    var st = cardFor(msg);
    var prev = st.msg;
    // call.updated carries matches; other messages keep what we knew if they carry none.
    if ((!msg.matches || msg.matches.length === 0) && prev.matches && prev.matches.length && msg.lookup !== "done") msg.matches = prev.matches;
    if (msg.type === "call.withdrawn" || msg.type === "call.ended") {
      msg.answered_by_user = msg.answered_by_user || prev.answered_by_user;
    }
    if (prev.type === "call.withdrawn" && msg.type === "call.ended") msg.type = prev.type; // keep "answered by Bob"
    if (prev.missed && !msg.call.missed) msg.call.missed = prev.missed;
    st.msg = msg;
    render(msg.call.id);
    if (msg.type === "call.ringing" || msg.type === "call.dialing") ring(msg);
    if (msg.type === "call.withdrawn" && msg.leg && msg.leg.cause === "answered_elsewhere") st.el.classList.add("fade");
    if (msg.type === "call.ended" || msg.type === "call.missed") loadHistory();
  }

  function ring(msg) {
    if (document.hidden && window.Notification && Notification.permission === "granted") {
      var n = new Notification("Call from " + who(msg), { body: cut(msg.call.remote.raw, 64), tag: msg.call.id });
      n.onclick = function () { window.focus(); var st = calls[msg.call.id]; if (st) st.el.scrollIntoView(); n.close(); };
    }
    var m = msg.matches && msg.matches[0];
    if (settings.open_record_on_ring === "on" && m && m.url && msg.type === "call.ringing") {
      var w = window.open(m.url, "_blank", "noopener");
      if (!w && !popupWarned) {
        popupWarned = true;
        var hint = document.getElementById("popup-hint");
        hint.textContent = "Your browser blocked opening the caller's record. Allow pop-ups for this site (the icon at the right of the address bar), or use the “Open in CRM” button on the card.";
        hint.hidden = false;
      }
    }
  }

  // ---- stream ----
  var backoff = 500;
  function connect() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(proto + "//" + location.host + "/api/v1/stream");
    ws.onopen = function () {
      backoff = 500;
      conn.dataset.state = "connected";
      conn.textContent = "● Connected";
      loadHistory();
    };
    ws.onmessage = function (ev) {
      try { onMessage(JSON.parse(ev.data)); } catch (e) { /* a bad message must not stop the page */ }
    };
    ws.onclose = function () {
      conn.dataset.state = "disconnected";
      conn.textContent = "○ Disconnected — reconnecting…";
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    };
  }

  // ---- history ----
  var missedOnly = document.getElementById("missed-only");
  function loadHistory() {
    api("GET", "/api/v1/calls?limit=50" + (missedOnly.checked ? "&missed=1" : "")).then(function (j) {
      var tb = document.getElementById("history");
      tb.textContent = "";
      (j.calls || []).forEach(function (rec) {
        var c = rec.call;
        var tr = el("tr");
        tr.appendChild(el("td", new Date(c.started_at).toLocaleString()));
        tr.appendChild(el("td", (c.direction === "outbound" ? "↗ " : "↙ ") + dirText(c)));
        var name = rec.regarding_name || (rec.matches && rec.matches[0] && rec.matches[0].name) || c.remote.name || "";
        tr.appendChild(el("td", cut(name, 60) + (name ? " · " : "") + (c.remote.withheld ? "withheld" : cut(c.remote.raw, 40))));
        var res = c.missed ? "Missed" : (c.answered_at && c.answered_at > "2000" ? "Answered, " + dur(new Date(c.ended_at || Date.now()) - new Date(c.answered_at)) : (c.state === "ended" ? "Not answered" : "In progress"));
        var td = el("td", res);
        if (c.missed) td.className = "missed";
        tr.appendChild(td);
        tr.appendChild(el("td", rec.notes ? "✔ saved" : "—"));
        var act = el("td");
        if (!c.remote.withheld && c.remote.raw) {
          var b = el("button", "Call back");
          b.type = "button";
          b.addEventListener("click", function () { dial(c.remote.number || c.remote.raw); });
          act.appendChild(b);
        }
        var m = rec.matches && rec.matches[0];
        if (m && m.url) {
          var a = el("a", "Open record", "button");
          a.href = m.url; a.target = "_blank"; a.rel = "noopener";
          act.appendChild(a);
        }
        tr.appendChild(act);
        tb.appendChild(tr);
      });
    }).catch(function () {});
  }
  missedOnly.addEventListener("change", loadHistory);

  // ---- dial ----
  var dialStatus = document.getElementById("dial-status");
  function dial(number) {
    dialStatus.textContent = "Calling " + number + "…";
    api("POST", "/api/v1/dial", { number: number })
      .then(function () { dialStatus.textContent = "Your phone rings now: pick it up to call " + number + "."; })
      .catch(function (err) { dialStatus.textContent = "Could not call: " + err.message; });
  }
  document.getElementById("dial-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    dial(document.getElementById("dial-number").value.trim());
  });
  var q = new URLSearchParams(location.search).get("dial");
  if (q) { document.getElementById("dial-number").value = q.replace(/^tel:/, ""); }
  try {
    if (navigator.registerProtocolHandler) navigator.registerProtocolHandler("tel", location.origin + "/?dial=%s");
  } catch (e) { /* not over https, or refused */ }

  // ---- settings ----
  var openOnRing = document.getElementById("open-on-ring");
  api("GET", "/api/v1/me").then(function (j) {
    settings = j.settings || {};
    openOnRing.checked = settings.open_record_on_ring === "on";
  }).catch(function () {});
  openOnRing.addEventListener("change", function () {
    api("POST", "/api/v1/me/settings", { open_record_on_ring: openOnRing.checked ? "on" : "off" })
      .then(function (j) { settings = j.settings || {}; }).catch(function () {});
  });
  var nb = document.getElementById("notify-btn");
  if (window.Notification && Notification.permission === "default") {
    nb.hidden = false;
    nb.addEventListener("click", function () { Notification.requestPermission().then(function () { nb.hidden = true; }); });
  }

  setInterval(function () {
    Object.keys(calls).forEach(function (id) { if (calls[id].msg.call.state === "answered") render(id); });
  }, 1000);
  connect();
})();
