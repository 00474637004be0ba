// Ringside agent page. Every caller- or CRM-supplied string goes into the page with
// textContent, never as HTML: caller names are hostile input. URLs from the CRM or from
// rules are opened only when they are http(s).
(function () {
  "use strict";
  var rec = document.getElementById("record");
  if (rec) {
    // The record page: a Call button beside each number.
    rec.addEventListener("click", function (ev) {
      var b = ev.target.closest("button[data-dial]");
      if (!b) return;
      var status = document.getElementById("dial-status");
      status.textContent = "Calling " + b.dataset.dial + "…";
      fetch("/api/v1/dial", { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": rec.dataset.csrf },
        body: JSON.stringify({ number: b.dataset.dial }) })
        .then(function (r) { return r.json().catch(function () { return {}; }).then(function (j) { if (!r.ok) throw new Error(j.error || ("HTTP " + r.status)); }); })
        .then(function () { status.textContent = "☎ Your phone rings now: pick it up to call " + b.dataset.dial + "."; })
        .catch(function (err) { status.textContent = "✖ Could not call: " + err.message; });
    });
  }
  var app = document.getElementById("app");
  if (!app) return;
  var csrf = app.dataset.csrf;
  var me = app.dataset.user;
  var cards = document.getElementById("cards");
  var tpl = document.getElementById("card-tpl");
  var conn = document.getElementById("conn");
  var calls = {}; // call id → card state {el, msg, regarding, info, notesSaved, acted}
  var infos = {}; // number → promise of GET /api/v1/caller
  var settings = {};
  var popupWarned = false;
  var cif = null; // Microsoft.CIFramework inside Dynamics 365

  // ---- helpers ----
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function button(text, cls, onclick) {
    var b = el("button", text, cls);
    b.type = "button";
    b.addEventListener("click", onclick);
    return b;
  }
  function cut(s, n) {
    s = String(s || "");
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  }
  function safeURL(u) {
    if (!u || typeof u !== "string") return "";
    try {
      var p = new URL(u, location.href);
      return p.protocol === "https:" || p.protocol === "http:" ? p.href : "";
    } catch (e) { return ""; }
  }
  function api(method, path, body) {
    var opts = { method: method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (r) {
      if (r.status === 401) location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) { var e = new Error(j.error || ("HTTP " + r.status)); e.status = r.status; throw e; }
        return j;
      });
    });
  }
  function dur(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s % 60).padStart(2, "0");
  }
  function isTime(t) { return t && t > "2000"; }
  function timeText(t) { return isTime(t) ? new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : ""; }
  function dirText(c) {
    return { inbound: "Incoming", outbound: "Outgoing", internal: "Internal" }[c.direction] || String(c.direction || "");
  }
  function sameRef(a, b) { return a && b && a.entity === b.entity && a.id === b.id; }

  // ---- Dynamics 365 Channel Integration Framework ----
  function initCIF() {
    if (cif || !window.Microsoft || !window.Microsoft.CIFramework) return;
    cif = window.Microsoft.CIFramework;
    app.classList.add("in-cif");
    try {
      cif.setClickToAct(true);
      cif.addHandler("onclicktoact", function (data) {
        var p = {};
        try { p = typeof data === "string" ? JSON.parse(data) : (data || {}); } catch (e) { /* ignore */ }
        if (p.value) { document.getElementById("dial-number").value = cut(p.value, 64); dial(String(p.value)); }
        return Promise.resolve();
      });
    } catch (e) { notice("Dynamics 365 click-to-dial could not be enabled: " + e.message); }
  }
  window.addEventListener("CIFInitDone", initCIF);
  initCIF();

  // openRecord opens m (a match or created record) in the CRM: CIF inside Dynamics, else a
  // new window; auto is true when no click caused it (pop-up blockers).
  function openRecord(m, auto, st) {
    if (cif && m.entity && m.id) {
      return cif.openForm(JSON.stringify({ entityName: m.entity, entityId: m.id }))
        .catch(function (e) { notice("Dynamics 365 could not open the record: " + (e && e.message || e)); });
    }
    var url = safeURL(m.url);
    if (!url) return;
    var w = window.open(url, "_blank");
    if (w) { try { w.opener = null; } catch (e) { /* cross-origin */ } return; }
    if (!auto) return;
    if (st) { st.blocked = m; render(st.msg.call.id); }
    if (!popupWarned) {
      popupWarned = true;
      var hint = document.getElementById("popup-hint");
      hint.textContent = "Your browser blocked opening the caller's record. To open records automatically, allow pop-ups for " +
        location.host + " (click the blocked-pop-up icon at the right of the address bar and choose “Always allow”). Until then, use the “Open” button on the call.";
      hint.hidden = false;
    }
  }

  function notice(text) {
    var n = document.getElementById("notice");
    n.textContent = cut(text, 300);
    n.hidden = !text;
  }

  // ---- cards ----
  function stateOf(st) {
    var msg = st.msg, c = msg.call, leg = msg.leg;
    if (st.elsewhere) return ["elsewhere", "Answered by " + st.elsewhere];
    if (c.missed || msg.type === "call.missed") return ["missed", "✖ Missed call"];
    if (msg.type === "call.not_answered") return ["missed", "✖ Not answered"];
    if (c.state === "ended") return ["ended", isTime(c.answered_at) ? "✔ Ended" : "Ended"];
    if (msg.type === "call.withdrawn" && leg && leg.cause === "answered_elsewhere")
      return ["elsewhere", "Answered by " + (msg.answered_by_user || ("ext. " + c.answered_by))];
    if (msg.type === "call.withdrawn") return ["ended", "Stopped ringing"];
    if (c.state === "answered") return ["answered", "● In call" + (msg.answered_by_user && msg.answered_by_user !== me ? " (" + msg.answered_by_user + ")" : "")];
    if (c.state === "dialing") return ["ringing", "↗ Dialing…"];
    return ["ringing", "☎ Ringing…"];
  }

  // ordered returns the matches with the user's earlier choice first.
  function ordered(st) {
    var ms = (st.msg.matches || []).slice();
    var pick = st.info && st.info.pick;
    st.pickedFirst = false;
    if (pick && ms.length > 1) {
      for (var i = 0; i < ms.length; i++) {
        if (sameRef(ms[i], pick)) {
          var m = ms.splice(i, 1)[0];
          ms.unshift(m);
          st.pickedFirst = true;
          break;
        }
      }
    }
    return ms;
  }
  function who(st) {
    var msg = st.msg;
    var ms = ordered(st);
    if (st.regarding) for (var i = 0; i < ms.length; i++) if (sameRef(ms[i], st.regarding)) return ms[i].name;
    if (ms[0]) return ms[0].name;
    if (msg.call.remote.withheld) return "Withheld number";
    return msg.call.remote.name ? cut(msg.call.remote.name, 80) : "Unknown caller";
  }
  function regardingMatch(st) {
    var ms = ordered(st);
    if (st.regarding) for (var i = 0; i < ms.length; i++) if (sameRef(ms[i], st.regarding)) return ms[i];
    return ms[0] || null;
  }

  function render(id) {
    var st = calls[id];
    if (!st) return;
    var msg = st.msg, c = msg.call, e = st.el;
    var s = stateOf(st);
    e.dataset.state = s[0];
    e.querySelector(".badge").textContent = s[1];
    e.querySelector(".dir").textContent = dirText(c);
    e.querySelector(".caller").textContent = who(st);
    var raw = c.remote.raw || "";
    var num = c.remote.withheld ? "Number withheld" : cut(raw, 64) + (c.remote.number && c.remote.number !== raw ? "  ·  " + c.remote.number : "");
    e.querySelector(".num").textContent = num;
    // Calls on the desktop companion's softphone can be answered and hung up from here.
    var ctl = e.querySelector(".phone-ctl");
    var onCompanion = String(c.source || "").indexOf("companion:") === 0;
    ctl.hidden = !onCompanion || c.state === "ended";
    ctl.querySelector(".answer").hidden = !(c.state === "ringing" && c.direction !== "outbound");
    var cb = e.querySelector(".call-back");
    cb.hidden = c.remote.withheld || !raw || c.state !== "ended";
    var lk = e.querySelector(".lookup");
    if (!st.error) lk.textContent = msg.lookup === "pending" ? "Looking the caller up in the CRM…" : msg.lookup === "failed" ? "The CRM did not answer; the caller may be known." : "";
    var ms = ordered(st);
    var ol = e.querySelector(".matches");
    ol.textContent = "";
    ms.forEach(function (m) {
      var li = el("li", null, "match");
      li.appendChild(el("span", m.entity, "entity"));
      li.appendChild(el("strong", m.name, "name"));
      if (m.company) li.appendChild(el("span", m.company, "company"));
      li.appendChild(el("span", cut(m.number, 64) + (m.match === "suffix" ? " (similar number)" : ""), "stored"));
      if (sameRef(st.regarding, m)) li.appendChild(el("span", "✔ this call is about them", "chosen"));
      else if (st.pickedFirst && sameRef(st.info.pick, m)) li.appendChild(el("span", "★ your earlier choice", "chosen"));
      if (safeURL(m.url) || cif) li.appendChild(button("Open in CRM", "open", function () { openRecord(m, false); }));
      if (ms.length > 1 && !sameRef(st.regarding, m)) {
        li.appendChild(button("This is the caller", "pick", function () { choose(st, m); }));
      }
      ol.appendChild(li);
    });
    var fb = e.querySelector(".open-fallback");
    fb.hidden = !st.blocked;
    if (st.blocked) e.querySelector(".open-big").textContent = "Open " + cut(st.blocked.name || "the record", 60) + " in the CRM";
    var unknown = ms.length === 0 && msg.lookup === "done" && !c.remote.withheld;
    var create = e.querySelector(".create");
    create.hidden = !unknown && !st.created;
    e.querySelector(".search").hidden = !(cif && unknown);
    if (unknown && !st.createShown) { st.createShown = true; create.open = true; } // once: she may fold it away
    if (unknown) fillCreate(st);
    var a = isTime(c.answered_at) && new Date(c.answered_at);
    var end = isTime(c.ended_at) ? new Date(c.ended_at) : new Date();
    var d = a ? dur(end - a) : "";
    e.querySelector(".dur").textContent = d;
    var rm = regardingMatch(st);
    var whoText = rm ? rm.name + (rm.company && rm.company !== rm.name ? " (" + rm.company + ")" : "") : (c.remote.withheld ? "a withheld number" : (c.remote.number || raw));
    var subj = c.missed ? "Missed call from " : c.direction === "outbound" ? (isTime(c.answered_at) || c.state !== "ended" ? "Outgoing call to " : "Unanswered call to ") : c.direction === "internal" ? "Internal call with " : "Incoming call from ";
    e.querySelector(".f-subject").textContent = st.ruleSubject || subj + whoText;
    e.querySelector(".f-direction").textContent = dirText(c);
    e.querySelector(".f-number").textContent = c.remote.withheld ? "withheld" : (c.remote.number || cut(raw, 64));
    e.querySelector(".f-regarding").textContent = rm ? rm.name + " (" + rm.entity + ")" : "—";
    e.querySelector(".f-start").textContent = isTime(c.started_at) ? new Date(c.started_at).toLocaleString() : "";
    e.querySelector(".f-duration").textContent = a ? d + (c.state === "ended" ? "" : " so far") : (c.state === "ended" ? "not answered" : "—");
    e.querySelector(".save-notes").textContent = st.notesSaved ? "Update notes" : "Save notes";
  }

  function fillCreate(st) {
    if (st.createFilled) return;
    var c = st.msg.call;
    var f = st.el.querySelector(".create-form");
    if (!st.info && c.remote.number) return; // wait for the formatted number
    st.createFilled = true;
    var nm = splitName(c.remote.name);
    f.first_name.value = cut(nm[0], 100);
    f.last_name.value = cut(nm[1], 100);
    var info = st.info || {};
    f.phone.value = info.international || c.remote.number || cut(c.remote.raw, 64);
    var fm = [];
    if (info.national) fm.push("National: " + info.national);
    if (c.remote.number) fm.push("E.164: " + c.remote.number);
    st.el.querySelector(".formats").textContent = fm.join(" · ");
  }

  function choose(st, m) {
    var id = st.msg.call.id;
    api("POST", "/api/v1/calls/" + encodeURIComponent(id) + "/regarding", { entity: m.entity, id: m.id })
      .then(function () {
        st.regarding = { entity: m.entity, id: m.id };
        // The next call from this number puts her choice first; this card stays as it is
        // (a list that jumps under the pointer is not calm).
        var n = st.msg.call.remote.number;
        if (n) infos[n] = { at: Date.now(), p: Promise.resolve(Object.assign({}, st.info || {}, { pick: st.regarding })) };
        render(id);
      })
      .catch(function (err) { showError(st, err); });
  }
  function showError(st, err) {
    st.error = true;
    st.el.querySelector(".lookup").textContent = err.message;
  }

  function callerInfo(st) {
    var n = st.msg.call.remote.number;
    if (!n || st.infoAsked) return;
    st.infoAsked = true;
    // A minute's cache: a ring group rings several cards for one number at once, and a
    // choice made on another device shows up soon enough.
    if (!infos[n] || Date.now() - infos[n].at > 60000) {
      infos[n] = { at: Date.now(), p: api("GET", "/api/v1/caller?number=" + encodeURIComponent(n)).catch(function () { delete infos[n]; return {}; }) };
    }
    infos[n].p.then(function (info) {
      st.info = info;
      var id = st.msg.call.id;
      if (!calls[id]) return;
      render(id);
      // Her earlier choice becomes this call's "regarding" record too.
      if (st.pickedFirst && !st.regarding && info.pick) {
        st.regarding = { entity: info.pick.entity, id: info.pick.id };
        api("POST", "/api/v1/calls/" + encodeURIComponent(id) + "/regarding", st.regarding).catch(function () {});
        render(id);
      }
      maybeOpen(st);
    });
  }

  function cardFor(msg) {
    var id = msg.call.id;
    if (calls[id]) return calls[id];
    var node = tpl.content.firstElementChild.cloneNode(true);
    node.id = "call-" + id.replace(/[^A-Za-z0-9_-]/g, "_");
    node.dataset.callId = id;
    var st = { el: node, msg: msg, acted: {} };
    calls[id] = st;
    node.querySelector(".dismiss").addEventListener("click", function () {
      node.remove(); delete calls[id]; empty();
      var next = cards.querySelector(".call");
      (next || document.getElementById("dial-number")).focus();
    });
    node.querySelector(".call-back").addEventListener("click", function () { dial(st.msg.call.remote.number || st.msg.call.remote.raw); });
    ["answer", "hangup"].forEach(function (what) {
      node.querySelector("." + what).addEventListener("click", function () {
        var status = node.querySelector(".phone-ctl .status");
        status.textContent = what === "answer" ? "Answering…" : "Hanging up…";
        api("POST", "/api/v1/companion/" + what, { call_id: id })
          .then(function () { status.textContent = ""; })
          .catch(function (err) { status.textContent = "Could not " + (what === "answer" ? "answer" : "hang up") + ": " + err.message; });
      });
    });
    node.querySelector(".open-big").addEventListener("click", function () { if (st.blocked) openRecord(st.blocked, false); });
    node.querySelector(".search-crm").addEventListener("click", function () {
      if (!cif) return;
      var n = st.msg.call.remote.number || st.msg.call.remote.raw;
      cif.searchAndOpenRecords("contact", "?$search=" + encodeURIComponent(n), false)
        .catch(function (e) { notice("Dynamics 365 search failed: " + (e && e.message || e)); });
    });
    node.querySelector(".create-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      createRecord(st, ev.target);
    });
    node.querySelector(".notes-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      saveNotes(st, ev.target);
    });
    node.querySelector(".notes").addEventListener("toggle", function (ev) {
      if (ev.target.open) loadNoteEntries(st);
    });
    cards.prepend(node);
    empty();
    return st;
  }
  function empty() { document.getElementById("no-calls").hidden = cards.children.length > 0; }

  function createRecord(st, f) {
    var id = st.msg.call.id;
    var body = { entity: f.entity.value, first_name: f.first_name.value, last_name: f.last_name.value,
      company: f.company.value, email: f.email.value, phone: f.phone.value, call_id: id };
    if (body.entity === "account") body.name = f.company.value || (f.first_name.value + " " + f.last_name.value).trim();
    var status = f.querySelector(".status");
    var btn = f.querySelector("button[type=submit]");
    status.textContent = "Saving…";
    btn.disabled = true;
    api("POST", "/api/v1/records", body).then(function (rec) {
      created(st, rec, body.phone);
      status.textContent = "✔ Created " + rec.name + ". The next call from this number will show it.";
      if (cif) openRecord(rec, false);
    }).catch(function (err) {
      if (err.status === 501 && cif) return createInDynamics(st, body, status);
      status.textContent = "Not created: " + err.message;
      btn.disabled = false;
    });
  }
  // createInDynamics creates the record through CIF (as the signed-in Dynamics user) when
  // Ringside's configured CRM cannot create records itself.
  function createInDynamics(st, body, status) {
    var data = { firstname: body.first_name, lastname: body.last_name, emailaddress1: body.email, telephone1: body.phone };
    if (body.entity === "account") data = { name: body.name, emailaddress1: body.email, telephone1: body.phone };
    if (body.entity === "lead") data.companyname = body.company;
    return cif.createRecord(body.entity, JSON.stringify(data)).then(function (res) {
      var r = JSON.parse(res);
      var rec = { entity: body.entity, id: String(r.id || "").replace(/[{}]/g, ""), name: body.name || (body.first_name + " " + body.last_name).trim() };
      created(st, rec, body.phone);
      api("POST", "/api/v1/calls/" + encodeURIComponent(st.msg.call.id) + "/regarding", { entity: rec.entity, id: rec.id }).catch(function () {});
      status.textContent = "✔ Created " + rec.name + " in Dynamics 365.";
      openRecord(rec, false);
    }).catch(function (e) { status.textContent = "Not created: " + (e && e.message || e); });
  }
  function created(st, rec, phone) {
    st.msg.matches = [{ entity: rec.entity, id: rec.id, name: rec.name, company: rec.company, number: phone, url: rec.url, match: "exact" }];
    st.regarding = { entity: rec.entity, id: rec.id };
    st.created = true;
    var n = st.msg.call.remote.number;
    if (n) delete infos[n];
    render(st.msg.call.id);
  }

  // ownNote is the user's own entry of a journal record's notes ("" when none).
  function ownNote(rec) {
    var mine = (rec.notes || []).filter(function (n) { return n.author === me; });
    return mine.length ? mine[0].text : "";
  }
  // showNoteEntries shows the other agents' entries (a transfer's earlier notes) above
  // the textarea, as text.
  function showNoteEntries(st, rec) {
    var f = st.el.querySelector(".notes-form");
    var box = f.querySelector(".note-entries");
    if (!box) {
      box = el("div", null, "note-entries");
      f.prepend(box);
    }
    box.textContent = "";
    (rec.notes || []).forEach(function (n) {
      if (n.author === me) return;
      var p = el("div", null, "note-entry");
      p.appendChild(el("div", (n.author || "—") + " · " + whenText(n.at), "note-author"));
      p.appendChild(el("div", n.text, "note-text"));
      box.appendChild(p);
    });
  }
  function loadNoteEntries(st) {
    api("GET", "/api/v1/calls/" + encodeURIComponent(st.msg.call.id)).then(function (rec) {
      showNoteEntries(st, rec);
      var ta = st.el.querySelector("textarea");
      if (!ta.value) ta.value = ownNote(rec);
    }).catch(function () {}); // not journaled yet: nothing to show
  }

  function saveNotes(st, f) {
    var id = st.msg.call.id;
    var status = f.querySelector(".status");
    var btn = f.querySelector("button[type=submit]");
    if (st.saving) return; // one request at a time: the server updates the same activity anyway
    st.saving = true;
    btn.disabled = true;
    status.textContent = "Saving…";
    var rm = regardingMatch(st);
    api("POST", "/api/v1/activities", { call_id: id, notes: f.notes.value, regarding: rm ? { entity: rm.entity, id: rm.id } : null })
      .then(function () {
        st.notesSaved = true;
        status.textContent = "✔ Saved " + new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) + ". Saving again updates the same CRM activity.";
        render(id);
        loadHistory();
      })
      .catch(function (err) { status.textContent = "Not saved: " + err.message; })
      .then(function () { st.saving = false; btn.disabled = false; });
  }

  var finalTypes = { "call.ended": 1, "call.missed": 1, "call.not_answered": 1 };
  function onMessage(msg) {
    if (!msg || !msg.type || msg.type === "hello") return;
    if (!msg.call || !msg.call.id || !msg.call.remote) return;
    // With rules, a ringing/dialing message no rule pops comes only for its actions: act
    // without showing a card (unless the call has one already).
    var acts = Array.isArray(msg.actions) ? msg.actions : [];
    if (!calls[msg.call.id] && (msg.type === "call.ringing" || msg.type === "call.dialing") && msg.pop !== true && acts.length) {
      act({ el: null, msg: msg, acted: {}, headless: true }, acts);
      return;
    }
    var st = cardFor(msg);
    var prev = st.msg;
    if (prev !== msg) {
      // Messages without a finished lookup keep what we knew.
      if ((!msg.matches || msg.matches.length === 0) && prev.matches && prev.matches.length && msg.lookup !== "done") {
        msg.matches = prev.matches; msg.lookup = prev.lookup;
      }
      if (st.created && (!msg.matches || msg.matches.length === 0)) { msg.matches = prev.matches; msg.lookup = "done"; }
      msg.answered_by_user = msg.answered_by_user || prev.answered_by_user;
      if (prev.call.missed) msg.call.missed = true;
      // A later event about a call that is over does not bring it back to life.
      if (prev.call.state === "ended" && msg.call.state !== "ended") { msg.call = prev.call; msg.type = prev.type; }
    }
    st.msg = msg;
    if (msg.type === "call.withdrawn" && msg.leg && msg.leg.cause === "answered_elsewhere") {
      st.elsewhere = msg.answered_by_user || ("ext. " + msg.call.answered_by);
      st.el.classList.add("fade");
    }
    if (msg.type === "call.answered" && msg.leg && (!msg.answered_by_user || msg.answered_by_user === me)) {
      st.elsewhere = ""; st.el.classList.remove("fade");
    }
    render(msg.call.id);
    callerInfo(st);
    if ((msg.type === "call.ringing" || msg.type === "call.dialing") && !acts.some(function (a) { return a && a.do === "notify"; })) ring(st);
    if (acts.length) act(st, acts);
    maybeOpen(st);
    if (finalTypes[msg.type]) loadHistory();
  }

  function ring(st) {
    var msg = st.msg;
    if (msg.type !== "call.ringing" || st.notified) return;
    st.notified = true;
    if (document.hidden && window.Notification && Notification.permission === "granted") {
      try {
        var n = new Notification("Call from " + who(st), { body: cut(msg.call.remote.raw, 64), tag: msg.call.id });
        n.onclick = function () { window.focus(); focusCard(st); n.close(); };
      } catch (e) { /* some browsers only notify from a service worker */ }
    }
  }
  function focusCard(st) { st.el.scrollIntoView({ block: "nearest" }); st.el.focus(); }

  // maybeOpen applies the user's "open the record when a call rings" setting (without rules).
  function maybeOpen(st) {
    var msg = st.msg;
    if (settings.open_record_on_ring !== "on" || st.acted.open || msg.call.state !== "ringing" || msg.call.direction === "outbound") return;
    if (msg.lookup === "pending") return; // call.updated brings the matches
    if (msg.call.remote.number && !st.info) return; // wait for her earlier choice
    var m = regardingMatch(st);
    if (!m) return;
    st.acted.open = true;
    openRecord(m, true, st);
  }

  // act runs the actions rules attached to a message, each once per call. A card-less
  // state (headless) only opens records and notifies.
  function act(st, actions) {
    actions.forEach(function (a) {
      if (!a || typeof a.do !== "string") return;
      var key = a.do + "|" + (a.url || a.entity || a.text || "");
      if (st.acted[key]) return;
      st.acted[key] = true;
      switch (a.do) {
      case "open_record":
        if (a.target === "companion") break; // the desktop companion opens it
        var m = (st.headless ? (st.msg.matches || [])[0] : regardingMatch(st)) || {};
        var target = { entity: m.entity, id: m.id, url: a.url || m.url, name: m.name };
        if (a.url && cif) target = { url: a.url, name: m.name }; // a rule's own URL wins
        st.acted.open = true;
        openRecord(target, true, st.headless ? null : st);
        break;
      case "open_create_form":
        if (a.url && !cif) { openRecord({ url: a.url, name: "the new record form" }, true, st.headless ? null : st); break; }
        openCreate(st, a.entity || "lead", a.prefill || {});
        break;
      case "open_activity":
        if (st.headless) break;
        if (a.subject) st.ruleSubject = cut(a.subject, 200);
        st.el.querySelector(".notes").open = true;
        render(st.msg.call.id);
        if (idle()) st.el.querySelector("textarea").focus();
        break;
      case "notify":
        var title = cut(a.title || "", 120), body = cut(a.text || "", 300);
        if (!st.headless) {
          var p = st.el.querySelector(".rule-note");
          p.textContent = "ℹ " + title + (title && body ? " — " : "") + body;
          p.hidden = !title && !body;
        } else if (title || body) notice(title + (title && body ? " — " : "") + body);
        if (document.hidden && window.Notification && Notification.permission === "granted") {
          try {
            var n = new Notification(title || body, { body: title ? body : "", tag: "notify-" + st.msg.call.id });
            n.onclick = function () { window.focus(); if (!st.headless) focusCard(st); n.close(); };
          } catch (e) { /* some browsers only notify from a service worker */ }
        }
        break;
      }
    });
  }
  // idle reports whether the agent is not typing somewhere: only then may a rule move the focus.
  function idle() {
    var a = document.activeElement;
    return !a || a === document.body || !/^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName);
  }
  function splitName(name) {
    var parts = cut(name || "", 200).trim().split(/\s+/).filter(Boolean);
    if (parts.length > 1) return [parts[0], parts.slice(1).join(" ")];
    return ["", parts[0] || ""];
  }
  function openCreate(st, entity, prefill) {
    var ent = ["contact", "lead", "account"].indexOf(entity) >= 0 ? entity : "lead";
    var c = st.msg.call;
    var nm = splitName(prefill.name || c.remote.name);
    if (cif) {
      var fp = { telephone1: prefill.phone || c.remote.number || c.remote.raw };
      if (ent !== "account") { if (nm[0]) fp.firstname = nm[0]; if (nm[1]) fp.lastname = nm[1]; }
      cif.openForm(JSON.stringify({ entityName: ent, useQuickCreateForm: true }), JSON.stringify(fp))
        .catch(function (e) { notice("Dynamics 365 could not open the form: " + (e && e.message || e)); });
      return;
    }
    if (st.headless) return;
    var d = st.el.querySelector(".create");
    d.hidden = false;
    d.open = true;
    st.createShown = true;
    fillCreate(st);
    var f = d.querySelector("form");
    f.querySelector("input[value=" + ent + "]").checked = true;
    if (idle()) f.first_name.focus();
  }

  // ---- stream ----
  var backoff = 500, ws = null, retryTimer = null, everConnected = false;
  function setConn(state, text, dot) {
    conn.dataset.state = state;
    conn.querySelector(".text").textContent = text;
    conn.querySelector(".dot").textContent = dot;
  }
  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (ws) return;
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    setConn("connecting", everConnected ? "Reconnecting…" : "Connecting…", "◌");
    var sock = new WebSocket(proto + "//" + location.host + "/api/v1/stream");
    ws = sock;
    sock.onopen = function () {
      backoff = 500;
      everConnected = true;
      setConn("connected", "Connected", "●");
      loadHistory(); // calls that rang while we were away
      refreshOpenCards();
    };
    sock.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      try { onMessage(m); } catch (e) { if (window.console) console.error(e); } // a bad message must not stop the page
    };
    sock.onclose = function () {
      if (ws === sock) ws = null;
      var wait = backoff + Math.floor(Math.random() * 250);
      backoff = Math.min(backoff * 2, 15000);
      setConn("disconnected", "Disconnected — retrying in " + Math.ceil(wait / 1000) + " s", "○");
      retryTimer = setTimeout(connect, wait);
    };
  }
  window.addEventListener("online", function () { if (!ws) { backoff = 500; connect(); } });
  window.addEventListener("offline", function () { if (ws) ws.close(); });

  // refreshOpenCards asks the journal about calls the page still shows as in progress:
  // they may have ended while the stream was down.
  function refreshOpenCards() {
    Object.keys(calls).forEach(function (id) {
      var st = calls[id];
      if (st.msg.call.state === "ended") return;
      api("GET", "/api/v1/calls/" + encodeURIComponent(id)).then(function (rec) {
        if (!calls[id] || rec.call.state !== "ended") return;
        st.msg = { type: rec.call.missed ? "call.missed" : "call.ended", call: rec.call, matches: st.msg.matches, lookup: st.msg.lookup, answered_by_user: st.msg.answered_by_user };
        render(id);
      }).catch(function () {});
    });
  }

  // ---- history ----
  var missedOnly = document.getElementById("missed-only");
  var histStatus = document.getElementById("hist-status");
  var histSeq = 0;
  function loadHistory() {
    var seq = ++histSeq;
    api("GET", "/api/v1/calls?mine=1&limit=50" + (missedOnly.checked ? "&missed=1" : "")).then(function (j) {
      if (seq !== histSeq) return; // a newer answer is on its way
      histStatus.textContent = "";
      var tb = document.getElementById("history");
      tb.textContent = "";
      (j.calls || []).forEach(function (rec) { tb.appendChild(historyRow(rec)); });
      if (!j.calls || !j.calls.length) {
        var tr = el("tr"), td = el("td", missedOnly.checked ? "No missed calls." : "No calls yet.", "muted");
        td.colSpan = 6;
        tr.appendChild(td);
        tb.appendChild(tr);
      }
    }).catch(function (err) { histStatus.textContent = "History not loaded: " + err.message; });
  }
  function historyRow(rec) {
    var c = rec.call;
    var tr = el("tr");
    tr.dataset.callId = c.id;
    tr.appendChild(el("td", whenText(c.started_at), "when"));
    tr.appendChild(el("td", (c.direction === "outbound" ? "↗ " : "↙ ") + dirText(c), "dir"));
    var m = rec.matches && rec.matches[0];
    var name = rec.regarding_name || (m && m.name) || c.remote.name || "";
    tr.appendChild(el("td", cut(name, 60) + (name ? " · " : "") + (c.remote.withheld ? "withheld" : cut(c.remote.raw, 40)), "who"));
    var res, cls = "";
    if (c.missed) { res = "✖ Missed"; cls = "missed"; }
    else if (isTime(c.answered_at)) {
      var by = c.answered_by && app.dataset.extensions.split(",").indexOf(c.answered_by) < 0 ? " (ext. " + c.answered_by + ")" : "";
      res = "✔ Answered" + by + ", " + dur(new Date(isTime(c.ended_at) ? c.ended_at : Date.now()) - new Date(c.answered_at));
    } else res = c.state === "ended" ? "Not answered" : "In progress";
    var td = el("td", res, "result" + (cls ? " " + cls : ""));
    tr.appendChild(td);
    tr.appendChild(el("td", rec.notes && rec.notes.length ? "✔ saved" : "none", "notes"));
    var actions = el("td", null, "row-actions");
    if (!c.remote.withheld && c.remote.raw) actions.appendChild(button("Call back", "", function () { dial(c.remote.number || c.remote.raw); }));
    var target = null;
    if (rec.regarding) (rec.matches || []).forEach(function (x) { if (sameRef(x, rec.regarding)) target = x; });
    target = target || m;
    if (target && (safeURL(target.url) || cif)) actions.appendChild(button("Open record", "", function () { openRecord(target, false); }));
    actions.appendChild(button(ownNote(rec) ? "Edit notes" : "Add notes", "", function () { notesFor(rec); }));
    tr.appendChild(actions);
    return tr;
  }
  // whenText is the time for today's calls, and the date and time for older ones.
  function whenText(t) {
    if (!isTime(t)) return "";
    var d = new Date(t), hm = { hour: "2-digit", minute: "2-digit" };
    if (d.toDateString() === new Date().toDateString()) return d.toLocaleTimeString([], hm);
    return d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + d.toLocaleTimeString([], hm);
  }
  // notesFor shows a card for a call from the journal, to add notes afterwards.
  function notesFor(rec) {
    var st = calls[rec.call.id];
    if (!st) {
      st = cardFor({ type: rec.call.missed ? "call.missed" : (rec.call.state === "ended" ? "call.ended" : "call.ringing"), call: rec.call, matches: rec.matches || [], lookup: "done" });
      if (rec.regarding) st.regarding = rec.regarding;
      st.notesSaved = !!ownNote(rec);
      st.el.querySelector("textarea").value = ownNote(rec);
      showNoteEntries(st, rec);
      st.acted.open = true;
      render(rec.call.id);
      callerInfo(st);
    }
    st.el.querySelector(".notes").open = true;
    focusCard(st);
    st.el.querySelector("textarea").focus();
  }
  missedOnly.addEventListener("change", loadHistory);

  // ---- dial ----
  var dialStatus = document.getElementById("dial-status");
  function dial(number) {
    number = String(number || "").trim();
    if (!number) return;
    dialStatus.textContent = "Calling " + cut(number, 64) + "…";
    api("POST", "/api/v1/dial", { number: number })
      .then(function () { dialStatus.textContent = "☎ Your phone rings now: pick it up to call " + cut(number, 64) + "."; })
      .catch(function (err) { dialStatus.textContent = "✖ Could not call: " + err.message; });
  }
  document.getElementById("dial-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    dial(document.getElementById("dial-number").value);
  });
  var q = new URLSearchParams(location.search).get("dial");
  if (q) {
    // A tel: link sent us here: fill the number, let the user confirm with Call (a link on
    // any web page must not place a call by itself).
    var dn = document.getElementById("dial-number");
    dn.value = cut(decodeURIComponent(q.replace(/^tel:/i, "")).replace(/;.*$/, ""), 64);
    dn.focus();
    dialStatus.textContent = "Press Call to dial this number.";
  }
  try {
    if (navigator.registerProtocolHandler && !cif && window.top === window.self) navigator.registerProtocolHandler("tel", location.origin + "/?dial=%s");
  } catch (e) { /* not over https, or refused */ }

  // ---- settings ----
  var openOnRing = document.getElementById("open-on-ring");
  api("GET", "/api/v1/me").then(function (j) {
    settings = j.settings || {};
    openOnRing.checked = settings.open_record_on_ring === "on";
  }).catch(function () {});
  openOnRing.addEventListener("change", function () {
    api("POST", "/api/v1/me/settings", { open_record_on_ring: openOnRing.checked ? "on" : "off" })
      .then(function (j) { settings = j.settings || {}; })
      .catch(function (err) { histStatus.textContent = "Setting not saved: " + err.message; openOnRing.checked = !openOnRing.checked; });
  });
  var nb = document.getElementById("notify-btn");
  if (window.Notification && Notification.permission === "default") {
    nb.hidden = false;
    nb.addEventListener("click", function () { Notification.requestPermission().then(function () { nb.hidden = Notification.permission !== "default"; }); });
    // Asked once, on the first login in this browser.
    try {
      if (!localStorage.getItem("ringside.notify.asked")) {
        localStorage.setItem("ringside.notify.asked", "1");
        Notification.requestPermission().then(function () { nb.hidden = Notification.permission !== "default"; });
      }
    } catch (e) { /* storage disabled */ }
  }

  setInterval(function () {
    Object.keys(calls).forEach(function (id) { if (calls[id].msg.call.state === "answered") render(id); });
  }, 1000);
  document.addEventListener("keydown", function (ev) {
    // Alt+N: the newest call's notes; Alt+D: the dial box.
    if (!ev.altKey) return;
    if (ev.key === "n") { var c = cards.querySelector("textarea"); if (c) { c.focus(); ev.preventDefault(); } }
    if (ev.key === "d") { document.getElementById("dial-number").focus(); ev.preventDefault(); }
  });
  var rulesBody = document.getElementById("rules");
  if (rulesBody) {
    api("GET", "/api/v1/rules").then(function (j) {
      (j.rules || []).forEach(function (r) {
        var tr = el("tr");
        tr.appendChild(el("td", String(r.index + 1)));
        tr.appendChild(el("td", (r.name || "") + (r.default ? " (default)" : "") + (r.line ? " · line " + r.line : "")));
        tr.appendChild(el("td", (r.on || []).join(", ")));
        var when = r.when && Object.keys(r.when).length ? JSON.stringify(r.when) : "always";
        tr.appendChild(el("td", when, "code"));
        var does = (r.do || []).map(function (a) { return a.do + (a.entity ? " " + a.entity : "") + (a.url ? " → " + a.url : ""); });
        if (r.stop) does.push("stop");
        tr.appendChild(el("td", does.join(", ")));
        rulesBody.appendChild(tr);
      });
    }).catch(function (err) {
      var tr = el("tr");
      tr.appendChild(el("td", "The rules could not be read: " + err.message));
      rulesBody.appendChild(tr);
    });
  }
  connect();
})();
