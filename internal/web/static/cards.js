// Ringside call cards: one compact card per call. Ringing calls sit in the sticky area at
// the top of the viewport; answered calls in "Calls now"; an ended call shrinks to a
// one-line wrap-up row that leaves when dismissed or after 10 minutes. Every caller- or
// CRM-supplied string goes in with textContent.
(function () {
  "use strict";
  var R = window.Ringside, t = R.t, F = R.fmt, el = R.el, button = R.button, cut = R.cut;
  var A = R.app; // csrf, me, extensions, api, settings, cif, openRecord, notice
  var cards = document.getElementById("cards");
  var ringingArea = document.getElementById("ringing");
  var ringingList = document.getElementById("ringing-cards");
  var tpl = document.getElementById("card-tpl");
  var announce = document.getElementById("announce");
  var baseTitle = document.title;
  var calls = {}; // call id → {el, msg, regarding, info, notes, acted, …}
  var infos = {}; // number → {at, p}: GET /api/v1/caller
  var WRAPUP_MS = 10 * 60 * 1000;

  function sameRef(a, b) { return a && b && a.entity === b.entity && a.id === b.id; }
  function mine(leg) { return leg && (leg.user === A.me || (!leg.user && A.extensions.indexOf(leg.extension) >= 0)); }
  function entityName(e) { return R.has("common.entity_" + e) ? t("common.entity_" + e) : String(e || ""); }

  function stateOf(st) {
    var msg = st.msg, c = msg.call, leg = msg.leg;
    if (st.elsewhere) return ["elsewhere", t("agent.state_elsewhere", { name: st.elsewhere })];
    if (c.missed || msg.type === "call.missed") return ["missed", t("agent.state_missed")];
    if (msg.type === "call.not_answered") return ["missed", t("agent.state_not_answered")];
    if (c.state === "ended") return ["ended", F.isTime(c.answered_at) ? t("agent.state_ended") : (c.direction === "outbound" ? t("agent.state_no_answer") : t("agent.state_ended"))];
    if (msg.type === "call.withdrawn" && leg && leg.cause === "answered_elsewhere")
      return ["elsewhere", t("agent.state_elsewhere", { name: msg.answered_by_user || t("agent.ext", { ext: c.answered_by }) })];
    if (msg.type === "call.withdrawn") return ["ended", t("agent.state_stopped")];
    if (c.state === "answered") return ["answered", t("agent.state_in_call")];
    if (c.state === "dialing") return ["dialing", t("agent.state_dialing")];
    return ["ringing", t("agent.state_ringing")];
  }
  function ordered(st) {
    var ms = (st.msg.matches || []).slice();
    var pick = st.info && st.info.pick;
    st.pickedFirst = false;
    if (pick && ms.length > 1) {
      for (var i = 0; i < ms.length; i++) if (sameRef(ms[i], pick)) { ms.unshift(ms.splice(i, 1)[0]); st.pickedFirst = true; break; }
    }
    return ms;
  }
  function regardingMatch(st) {
    var ms = ordered(st);
    if (st.regarding) for (var i = 0; i < ms.length; i++) if (sameRef(ms[i], st.regarding)) return ms[i];
    return ms[0] || null;
  }
  // who is the card's heading: the CRM record, else "Unknown caller" (or "Unknown
  // number" for an outgoing call); the network's display name is only a "Caller ID".
  function who(st) {
    var m = regardingMatch(st), c = st.msg.call;
    if (m) return m.name;
    if (c.remote.withheld) return t("agent.withheld");
    return c.direction === "outbound" ? t("agent.unknown_number") : t("agent.unknown_caller");
  }
  function national(st) {
    var c = st.msg.call;
    return (st.info && st.info.national) || c.remote.number || cut(c.remote.raw, 64);
  }
  // transferFrom names who handed this call over: the answered leg before mine.
  function transferFrom(st) {
    var msg = st.msg, legs = msg.call.legs || [];
    if (msg.type === "call.transferred" && msg.from && !st.transferFrom)
      st.transferFrom = msg.answered_by_user && msg.answered_by_user !== A.me ? msg.answered_by_user : legName(legs, msg.from);
    if (st.transferFrom) return st.transferFrom;
    var my = null;
    legs.forEach(function (l) { if (mine(l)) my = l; });
    if (!my) return "";
    for (var i = 0; i < legs.length; i++) {
      var l = legs[i];
      if (l !== my && !mine(l) && F.isTime(l.answered_at) && (!F.isTime(my.ringing_at) || l.answered_at <= my.ringing_at)) return l.user || t("agent.ext", { ext: l.extension });
    }
    return "";
  }
  function legName(legs, ext) {
    for (var i = 0; i < legs.length; i++) if (legs[i].extension === ext && legs[i].user) return legs[i].user;
    return t("agent.ext", { ext: ext });
  }

  function render(id) {
    var st = calls[id];
    if (!st) return;
    var msg = st.msg, c = msg.call, e = st.el;
    var s = stateOf(st);
    e.dataset.state = s[0];
    e.classList.toggle("fade", s[0] === "elsewhere");
    e.querySelector(".badge").textContent = s[1];
    e.querySelector(".dir").textContent = t("agent.dir_" + (c.direction || "inbound"));
    e.querySelector(".name").textContent = who(st);
    var m = regardingMatch(st);
    var eb = e.querySelector(".entity-badge");
    eb.hidden = !m;
    if (m) eb.textContent = entityName(m.entity);
    e.querySelector(".company").textContent = m && m.company && m.company !== m.name ? m.company : "";
    var num = e.querySelector(".num");
    num.textContent = c.remote.withheld ? "" : national(st);
    num.title = c.remote.number ? "E.164: " + c.remote.number : "";
    num.dataset.e164 = c.remote.number || "";
    var cid = e.querySelector(".cid");
    var net = c.remote.name && (!m || m.name !== c.remote.name) ? cut(c.remote.name, 80) : "";
    cid.hidden = !net;
    cid.textContent = net ? t("agent.caller_id", { name: net }) : "";
    var tf = transferFrom(st);
    var tr = e.querySelector(".transfer");
    tr.hidden = !tf;
    tr.textContent = tf ? t("agent.transferred_from", { name: tf }) : "";
    var last = e.querySelector(".last");
    var lc = st.info && st.info.last;
    last.hidden = !lc;
    if (lc) last.textContent = t(lc.notes ? "agent.last_contact_notes" : "agent.last_contact", { when: F.when(lc.at), who: lc.user || (lc.missed ? t("agent.state_missed") : t("agent.state_no_answer")), notes: cut(String(lc.notes || "").split("\n")[0], 80) });
    // Calls on the desktop companion's softphone can be answered and hung up from here.
    var onCompanion = String(c.source || "").indexOf("companion:") === 0;
    e.querySelector(".answer").hidden = !(onCompanion && c.state === "ringing" && c.direction !== "outbound");
    e.querySelector(".hangup").hidden = !(onCompanion && c.state !== "ended");
    e.querySelector(".call-back").hidden = c.remote.withheld || !c.remote.raw || c.state !== "ended" || !R.canDial();
    var lk = e.querySelector(".lookup");
    if (!st.error) lk.textContent = msg.lookup === "pending" ? t("agent.lookup_pending") : msg.lookup === "failed" ? t("agent.lookup_failed") : "";
    var ms = ordered(st);
    var ol = e.querySelector(".matches");
    ol.textContent = "";
    if (ms.length > 1) ms.forEach(function (x) {
      var li = el("li", null, "match");
      li.appendChild(el("span", entityName(x.entity), "entity"));
      li.appendChild(el("strong", x.name, "name"));
      if (x.company) li.appendChild(el("span", x.company, "company"));
      if (x.match === "suffix") li.appendChild(el("span", t("agent.similar_number"), "muted"));
      if (sameRef(st.regarding, x)) li.appendChild(el("span", t("agent.chosen"), "chosen"));
      else if (st.pickedFirst && sameRef(st.info.pick, x)) li.appendChild(el("span", t("agent.earlier_choice"), "chosen"));
      else li.appendChild(button(t("agent.pick"), "pick small", function () { choose(st, x); }));
      if (R.safeURL(x.url) || A.cif) li.appendChild(button(t("agent.open"), "open small", function () { A.openRecord(x, false); }));
      ol.appendChild(li);
    });
    var om = e.querySelector(".open-main");
    om.hidden = !(m && (R.safeURL(m.url) || A.cif));
    var unknown = ms.length === 0 && msg.lookup === "done" && !c.remote.withheld;
    var create = e.querySelector(".create");
    create.hidden = !unknown || st.created;
    e.querySelector(".search-crm").hidden = !(A.cif && unknown);
    if (unknown && !st.createShown && c.direction !== "internal") { st.createShown = true; create.open = true; }
    if (unknown) fillCreate(st);
    // Internal calls are not logged: no notes.
    e.querySelector(".notes").hidden = c.direction === "internal";
    // Notes fold away while it rings (a compact pop) and open once, when she is on the call.
    if (!st.notesOpened && (c.state === "answered" || (st.entries && st.entries.length)) && s[0] !== "ringing") { st.notesOpened = true; e.querySelector(".notes").open = true; }
    renderNotes(st);
    e.querySelector(".subject").textContent = subject(st);
    e.querySelector(".save-notes").textContent = st.notesSaved ? t("agent.update_notes") : t("agent.save_notes");
    tick(st);
    place(st, s[0]);
  }
  function subject(st) {
    var c = st.msg.call, m = regardingMatch(st);
    var whoText = m ? m.name : (c.remote.withheld ? t("agent.withheld") : national(st));
    if (st.ruleSubject) return st.ruleSubject;
    if (c.missed) return t("agent.subj_missed", { who: whoText });
    if (c.direction === "outbound") return t(F.isTime(c.answered_at) || c.state !== "ended" ? "agent.subj_outbound" : "agent.subj_outbound_unanswered", { who: whoText });
    return t("agent.subj_inbound", { who: whoText });
  }
  function tick(st) {
    var c = st.msg.call, e = st.el;
    var from = F.isTime(c.answered_at) ? c.answered_at : (c.state !== "ended" ? c.started_at : "");
    var end = F.isTime(c.ended_at) ? new Date(c.ended_at) : new Date();
    e.querySelector(".timer").textContent = F.isTime(from) ? F.duration(end - new Date(from)) : "";
  }
  function renderNotes(st) {
    var ol = st.el.querySelector(".entries");
    ol.textContent = "";
    (st.entries || []).forEach(function (n) {
      var li = el("li", null, "entry");
      var head = el("p", null, "entry-head");
      head.appendChild(el("strong", n.author || t("agent.notes_earlier")));
      if (n.at) head.appendChild(el("span", " · " + F.when(n.at), "muted nowrap"));
      li.appendChild(head);
      li.appendChild(el("p", n.text, "entry-text"));
      ol.appendChild(li);
    });
  }

  // place puts the card where its state belongs: ringing at the top of the viewport,
  // the rest in "Calls now"; ended calls fold into a wrap-up row.
  function place(st, state) {
    var e = st.el;
    var ringing = state === "ringing" || (state === "dialing" && false);
    var target = ringing ? ringingList : cards;
    if (e.parentNode !== target) {
      var focused = e.contains(document.activeElement);
      target.prepend(e);
      if (focused) e.focus({ preventScroll: true });
    }
    var over = state === "ended" || state === "missed" || state === "elsewhere";
    e.classList.toggle("wrapup", over && !st.expanded);
    if (over && !st.leaveTimer) st.leaveTimer = setTimeout(function () { dismiss(st); }, WRAPUP_MS);
    ringingArea.hidden = ringingList.children.length === 0;
    empty();
    titleAndSound();
  }
  function empty() { document.getElementById("no-calls").hidden = cards.children.length > 0; }

  // titleAndSound shows the ringing caller in the tab title and rings (when she turned
  // the sound on) while any card rings.
  function titleAndSound() {
    var first = ringingList.querySelector(".call");
    if (first) {
      var st = calls[first.dataset.callId];
      document.title = t("agent.title_ringing", { name: st ? cutTitle(st) : "" });
      R.ring && R.ring(true);
    } else {
      document.title = baseTitle;
      R.ring && R.ring(false);
    }
  }
  function cutTitle(st) {
    var m = regardingMatch(st);
    return cut(m ? m.name : (st.msg.call.remote.withheld ? t("agent.withheld") : national(st)), 60);
  }

  function dismiss(st) {
    var e = st.el, id = st.msg.call.id;
    clearTimeout(st.leaveTimer);
    var hadFocus = e.contains(document.activeElement);
    e.remove();
    delete calls[id];
    ringingArea.hidden = ringingList.children.length === 0;
    empty();
    titleAndSound();
    // No scrolling and no jump to another box: focus stays near where it was.
    if (hadFocus) cards.focus({ preventScroll: true });
  }

  // fillCreate fills the create form from the caller ID at once, and the number's
  // international format once it is known, unless she has changed the number by then.
  function fillCreate(st) {
    var c = st.msg.call;
    var f = st.el.querySelector(".create-form");
    if (!st.createFilled) {
      st.createFilled = true;
      var nm = splitName(c.remote.name);
      f.salutation.value = nm[0];
      f.first_name.value = cut(nm[1], 100);
      f.last_name.value = cut(nm[2], 100);
      f.phone.value = st.createPhone = c.remote.number || cut(c.remote.raw, 64);
    }
    if (st.createFormatted || (!st.info && c.remote.number)) return;
    st.createFormatted = true;
    var info = st.info || {};
    if (info.international && f.phone.value === st.createPhone) f.phone.value = info.international;
    var fm = [];
    if (info.national) fm.push(t("agent.fmt_national", { number: info.national }));
    if (c.remote.number) fm.push("E.164: " + c.remote.number);
    st.el.querySelector(".formats").textContent = fm.join(" · ");
  }
  // splitName splits a display name into [salutation, first, last]; academic titles
  // (Dr., Prof., Mag., Ing., DI, Dipl.-Ing.) and Herr/Frau go to the salutation.
  var titles = /^(dr\.?|prof\.?|mag\.?|ing\.?|di|dipl\.-ing\.?|herr|frau|mr\.?|mrs\.?|ms\.?)$/i;
  function splitName(name) {
    var parts = cut(name || "", 200).trim().split(/\s+/).filter(Boolean);
    var sal = [];
    while (parts.length > 1 && titles.test(parts[0])) sal.push(parts.shift());
    if (parts.length > 1) return [sal.join(" "), parts[0], parts.slice(1).join(" ")];
    return [sal.join(" "), "", parts[0] || ""];
  }
  R.splitName = splitName;

  function choose(st, m) {
    var id = st.msg.call.id;
    A.api("POST", "/api/v1/calls/" + encodeURIComponent(id) + "/regarding", { entity: m.entity, id: m.id })
      .then(function () {
        st.regarding = { entity: m.entity, id: m.id };
        var n = st.msg.call.remote.number;
        if (n) infos[n] = { at: Date.now(), p: Promise.resolve(Object.assign({}, st.info || {}, { pick: st.regarding })) };
        render(id);
      })
      .catch(function (err) { st.error = true; st.el.querySelector(".lookup").textContent = err.message; });
  }

  function callerInfo(st) {
    var c = st.msg.call, n = c.remote.number;
    if (!n || st.infoAsked) return;
    st.infoAsked = true;
    // A minute's cache: a ring group rings several cards for one number at once.
    if (!infos[n] || Date.now() - infos[n].at > 60000) {
      infos[n] = { at: Date.now(), p: A.api("GET", "/api/v1/caller?number=" + encodeURIComponent(n) + "&call=" + encodeURIComponent(c.id)).catch(function () { delete infos[n]; return {}; }) };
    }
    infos[n].p.then(function (info) {
      var id = st.msg.call.id;
      st.info = info;
      if (info.last && info.last.call_id === id) st.info = Object.assign({}, info, { last: null });
      if (!calls[id]) return;
      render(id);
      if (st.pickedFirst && !st.regarding && info.pick) {
        st.regarding = { entity: info.pick.entity, id: info.pick.id };
        A.api("POST", "/api/v1/calls/" + encodeURIComponent(id) + "/regarding", st.regarding).catch(function () {});
        render(id);
      }
      maybeOpen(st);
    });
  }
  // loadNotes reads the call's notes entries from the journal: a transferred call brings
  // the earlier agent's notes; her own entry fills the text box.
  // Until they are read, an empty text box is read-only: what she typed into it would be
  // saved over the notes she wrote before.
  function loadNotes(st) {
    if (st.notesAsked) return;
    st.notesAsked = true;
    var id = st.msg.call.id;
    var ta = st.el.querySelector("textarea"), btn = st.el.querySelector(".save-notes");
    var status = st.el.querySelector(".notes-form .status");
    var lock = !ta.value;
    if (lock) { ta.readOnly = true; btn.disabled = true; status.textContent = t("agent.notes_loading"); }
    function unlock(msg) {
      if (!lock) return;
      ta.readOnly = false;
      if (!st.saving) btn.disabled = false;
      status.textContent = msg;
    }
    A.api("GET", "/api/v1/calls/" + encodeURIComponent(id)).then(function (rec) {
      unlock("");
      if (!calls[id]) return;
      if (Array.isArray(rec.notes)) {
        st.entries = rec.notes.filter(function (n) { return n && n.author !== A.me; });
        rec.notes.forEach(function (n) { if (n && n.author === A.me && !ta.value) { ta.value = n.text || ""; st.notesSaved = true; } });
      } else if (typeof rec.notes === "string" && rec.notes) {
        // Before notes had authors: one text for the call.
        if (transferFrom(st)) st.entries = [{ author: "", at: "", text: rec.notes }];
        else if (!ta.value) { ta.value = rec.notes; st.notesSaved = true; }
      }
      if (rec.regarding && !st.regarding) st.regarding = rec.regarding;
      render(id);
    }).catch(function (err) {
      st.notesAsked = false;
      // Not in the journal yet (a call that just began): there is nothing to save over.
      unlock(err.status === 404 ? "" : t("agent.notes_not_loaded", { reason: err.message }));
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
    node.querySelector(".dismiss").addEventListener("click", function () { dismiss(st); });
    node.querySelector(".call-back").addEventListener("click", function (ev) {
      R.dial(A.api, st.msg.call.remote.number || st.msg.call.remote.raw, node.querySelector(".ctl-status"));
    });
    node.querySelector(".open-main").addEventListener("click", function () { var m = regardingMatch(st); if (m) A.openRecord(m, false); });
    node.querySelector(".num").addEventListener("copy", function (ev) {
      var n = ev.currentTarget.dataset.e164;
      if (n && ev.clipboardData) { ev.clipboardData.setData("text/plain", n); ev.preventDefault(); }
    });
    ["answer", "hangup"].forEach(function (what) {
      node.querySelector("." + what).addEventListener("click", function () { control(st, what); });
    });
    node.querySelector(".search-crm").addEventListener("click", function () {
      if (!A.cif) return;
      var n = st.msg.call.remote.number || st.msg.call.remote.raw;
      A.cif.searchAndOpenRecords("contact", "?$search=" + encodeURIComponent(n), false)
        .catch(function (e) { A.notice(t("agent.cif_failed", { reason: (e && e.message) || e })); });
    });
    node.querySelector(".create-form").addEventListener("submit", function (ev) { ev.preventDefault(); createRecord(st, ev.target); });
    node.querySelector(".notes-form").addEventListener("submit", function (ev) { ev.preventDefault(); saveNotes(st, ev.target); });
    node.querySelector(".notes").addEventListener("toggle", function (ev) {
      if (ev.target.open && node.classList.contains("wrapup")) { st.expanded = true; node.classList.remove("wrapup"); }
    });
    node.addEventListener("click", function (ev) {
      if (node.classList.contains("wrapup") && ev.target.closest(".expand")) { st.expanded = true; node.classList.remove("wrapup"); }
    });
    cards.prepend(node);
    empty();
    return st;
  }
  function control(st, what) {
    var status = st.el.querySelector(".ctl-status");
    status.textContent = t(what === "answer" ? "agent.answering" : "agent.hanging_up");
    return A.api("POST", "/api/v1/companion/" + what, { call_id: st.msg.call.id })
      .then(function () { status.textContent = ""; })
      .catch(function (err) { status.textContent = t(what === "answer" ? "agent.answer_failed" : "agent.hangup_failed", { reason: err.message }); });
  }

  function createRecord(st, f) {
    var id = st.msg.call.id;
    var body = { entity: f.entity.value, first_name: f.first_name.value, last_name: f.last_name.value,
      company: f.company.value, email: f.email.value, phone: f.phone.value, call_id: id };
    if (f.salutation.value.trim()) body.salutation = f.salutation.value.trim();
    if (body.entity === "account") body.name = f.company.value || (f.first_name.value + " " + f.last_name.value).trim();
    var status = f.querySelector(".status");
    var btn = f.querySelector("button[type=submit]");
    status.textContent = t("agent.saving");
    btn.disabled = true;
    A.api("POST", "/api/v1/records", body).then(function (rec) {
      created(st, rec, body.phone);
      A.notice("");
      st.el.querySelector(".lookup").textContent = t("agent.created", { name: rec.name });
      if (A.cif) A.openRecord(rec, false);
    }).catch(function (err) {
      btn.disabled = false;
      if (err.status === 501 && A.cif) return createInDynamics(st, body, status);
      status.textContent = t("agent.not_created", { reason: err.message });
    });
  }
  function createInDynamics(st, body, status) {
    var data = { firstname: body.first_name, lastname: body.last_name, emailaddress1: body.email, telephone1: body.phone };
    if (body.entity === "account") data = { name: body.name, emailaddress1: body.email, telephone1: body.phone };
    if (body.entity === "lead") data.companyname = body.company;
    return A.cif.createRecord(body.entity, JSON.stringify(data)).then(function (res) {
      var r = JSON.parse(res);
      var rec = { entity: body.entity, id: String(r.id || "").replace(/[{}]/g, ""), name: body.name || (body.first_name + " " + body.last_name).trim() };
      created(st, rec, body.phone);
      A.api("POST", "/api/v1/calls/" + encodeURIComponent(st.msg.call.id) + "/regarding", { entity: rec.entity, id: rec.id }).catch(function () {});
      A.openRecord(rec, false);
    }).catch(function (e) { status.textContent = t("agent.not_created", { reason: (e && e.message) || e }); });
  }
  // created closes the form and shows the new record on the card.
  function created(st, rec, phone) {
    st.msg.matches = [{ entity: rec.entity, id: rec.id, name: rec.name, company: rec.company, number: phone, url: rec.url, match: "exact" }];
    st.msg.lookup = "done";
    st.regarding = { entity: rec.entity, id: rec.id };
    st.created = true;
    var d = st.el.querySelector(".create");
    d.open = false;
    var n = st.msg.call.remote.number;
    if (n) delete infos[n];
    render(st.msg.call.id);
  }

  function saveNotes(st, f) {
    var id = st.msg.call.id;
    var status = f.querySelector(".status");
    var btn = f.querySelector("button[type=submit]");
    if (st.saving) return;
    st.saving = true;
    btn.disabled = true;
    status.textContent = t("agent.saving");
    var rm = regardingMatch(st);
    A.api("POST", "/api/v1/activities", { call_id: id, notes: f.notes.value, regarding: rm ? { entity: rm.entity, id: rm.id } : null })
      .then(function () {
        st.notesSaved = true;
        status.textContent = t("agent.saved", { time: F.time(new Date().toISOString()) });
        render(id);
        R.history && R.history.load();
      })
      .catch(function (err) { status.textContent = t("agent.not_saved", { reason: err.message }); })
      .then(function () { st.saving = false; btn.disabled = false; });
  }

  function maybeOpen(st) {
    var msg = st.msg;
    if (A.settings.open_record_on_ring !== "on" || st.acted.open || msg.call.state !== "ringing" || msg.call.direction === "outbound") return;
    if (msg.lookup === "pending") return;
    if (msg.call.remote.number && !st.info) return;
    var m = regardingMatch(st);
    if (!m) return;
    st.acted.open = true;
    A.openRecord(m, true, st);
  }

  // act runs the actions rules attached to a message, each once per call.
  function act(st, actions) {
    actions.forEach(function (a) {
      if (!a || typeof a.do !== "string") return;
      var key = a.do + "|" + (a.url || a.entity || a.text || "");
      if (st.acted[key]) return;
      st.acted[key] = true;
      switch (a.do) {
      case "open_record":
        if (a.target === "companion") break;
        var m = (st.headless ? (st.msg.matches || [])[0] : regardingMatch(st)) || {};
        var target = { entity: m.entity, id: m.id, url: a.url || m.url, name: m.name };
        if (a.url && A.cif) target = { url: a.url, name: m.name };
        st.acted.open = true;
        A.openRecord(target, true, st.headless ? null : st);
        break;
      case "open_create_form":
        if (a.url && !A.cif) { A.openRecord({ url: a.url, name: "" }, true, st.headless ? null : st); break; }
        openCreate(st, a.entity || "lead", a.prefill || {});
        break;
      case "open_activity":
        if (st.headless) break;
        if (a.subject) st.ruleSubject = cut(a.subject, 200);
        st.el.querySelector(".notes").open = true;
        render(st.msg.call.id);
        if (idle()) st.el.querySelector("textarea").focus({ preventScroll: true });
        break;
      case "notify":
        var title = cut(a.title || "", 120), body = cut(a.text || "", 300);
        var line = title + (title && body ? " — " : "") + body;
        if (!st.headless) {
          var p = st.el.querySelector(".rule-note");
          p.textContent = "ℹ " + line;
          p.hidden = !line;
        } else if (line) A.notice(line);
        desktopNotify(title || body, title ? body : "", "notify-" + st.msg.call.id, st);
        break;
      }
    });
  }
  function idle() {
    var a = document.activeElement;
    return !a || a === document.body || !/^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName);
  }
  function openCreate(st, entity, prefill) {
    var ent = ["contact", "lead", "account"].indexOf(entity) >= 0 ? entity : "lead";
    var c = st.msg.call;
    var nm = splitName(prefill.name || c.remote.name);
    if (A.cif) {
      var fp = { telephone1: prefill.phone || c.remote.number || c.remote.raw };
      if (ent !== "account") { if (nm[1]) fp.firstname = nm[1]; if (nm[2]) fp.lastname = nm[2]; }
      A.cif.openForm(JSON.stringify({ entityName: ent, useQuickCreateForm: true }), JSON.stringify(fp))
        .catch(function (e) { A.notice(t("agent.cif_failed", { reason: (e && e.message) || e })); });
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
    if (idle()) f.first_name.focus({ preventScroll: true });
  }
  function desktopNotify(title, body, tag, st) {
    if (!(document.hidden && window.Notification && Notification.permission === "granted")) return;
    try {
      var n = new Notification(title, { body: body, tag: tag });
      n.onclick = function () { window.focus(); if (st && !st.headless) st.el.focus({ preventScroll: true }); n.close(); };
    } catch (e) { /* some browsers only notify from a service worker */ }
  }
  function ring(st) {
    if (st.msg.type !== "call.ringing" || st.notified) return;
    st.notified = true;
    var name = cutTitle(st);
    announce.textContent = t("agent.announce_ringing", { name: name });
    desktopNotify(t("agent.notify_call_from", { name: name }), cut(st.msg.call.remote.raw, 64), st.msg.call.id, st);
  }

  var finalTypes = { "call.ended": 1, "call.missed": 1, "call.not_answered": 1 };
  function onMessage(msg) {
    if (!msg || !msg.type || msg.type === "hello") return;
    if (!msg.call || !msg.call.id || !msg.call.remote) return;
    var acts = Array.isArray(msg.actions) ? msg.actions : [];
    if (!calls[msg.call.id] && (msg.type === "call.ringing" || msg.type === "call.dialing") && msg.pop !== true && acts.length) {
      act({ el: null, msg: msg, acted: {}, headless: true }, acts);
      return;
    }
    var st = cardFor(msg);
    var prev = st.msg;
    if (prev !== msg) {
      if ((!msg.matches || msg.matches.length === 0) && prev.matches && prev.matches.length && msg.lookup !== "done") { msg.matches = prev.matches; msg.lookup = prev.lookup; }
      if (st.created && (!msg.matches || msg.matches.length === 0)) { msg.matches = prev.matches; msg.lookup = "done"; }
      msg.answered_by_user = msg.answered_by_user || prev.answered_by_user;
      if (prev.call.missed) msg.call.missed = true;
      if (prev.call.state === "ended" && msg.call.state !== "ended") { msg.call = prev.call; msg.type = prev.type; }
    }
    st.msg = msg;
    if (msg.type === "call.withdrawn" && msg.leg && msg.leg.cause === "answered_elsewhere") st.elsewhere = msg.answered_by_user || t("agent.ext", { ext: msg.call.answered_by });
    if ((msg.type === "call.answered" && msg.leg && mine(msg.leg)) || msg.type === "call.transferred" && mine(msg.leg)) st.elsewhere = "";
    render(msg.call.id);
    callerInfo(st);
    if (transferFrom(st) || msg.call.state === "answered") loadNotes(st);
    if ((msg.type === "call.ringing" || msg.type === "call.dialing") && !acts.some(function (a) { return a && a.do === "notify"; })) ring(st);
    if (acts.length) act(st, acts);
    maybeOpen(st);
    if (finalTypes[msg.type]) R.history && R.history.load();
  }

  // refreshOpen asks the journal about calls the page still shows in progress: they may
  // have ended while the stream was down.
  function refreshOpen() {
    Object.keys(calls).forEach(function (id) {
      var st = calls[id];
      if (st.msg.call.state === "ended") return;
      A.api("GET", "/api/v1/calls/" + encodeURIComponent(id)).then(function (rec) {
        if (!calls[id] || rec.call.state !== "ended") return;
        st.msg = { type: rec.call.missed ? "call.missed" : "call.ended", call: rec.call, matches: st.msg.matches, lookup: st.msg.lookup, answered_by_user: st.msg.answered_by_user };
        render(id);
      }).catch(function () {});
    });
  }
  // notesFor shows a card for a call from the journal, to add notes afterwards.
  function notesFor(rec) {
    var st = calls[rec.call.id];
    if (!st) {
      st = cardFor({ type: rec.call.missed ? "call.missed" : (rec.call.state === "ended" ? "call.ended" : "call.ringing"), call: rec.call, matches: rec.matches || [], lookup: "done" });
      if (rec.regarding) st.regarding = rec.regarding;
      st.acted.open = true;
      st.expanded = true;
      render(rec.call.id);
      callerInfo(st);
      loadNotes(st);
    }
    st.expanded = true;
    st.el.classList.remove("wrapup");
    st.el.querySelector(".notes").open = true;
    st.el.scrollIntoView({ block: "nearest" });
    st.el.querySelector("textarea").focus({ preventScroll: true });
  }
  setInterval(function () {
    Object.keys(calls).forEach(function (id) { if (calls[id].msg.call.state !== "ended") tick(calls[id]); });
  }, 1000);

  // Keyboard: Alt+O opens the ringing caller's record, Alt+A answers, Alt+H hangs up,
  // Alt+X dismisses the newest card, Alt+N goes to its notes, Alt+D to the dial box.
  document.addEventListener("keydown", function (ev) {
    if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var k = ev.key.toLowerCase();
    var first = ringingList.querySelector(".call") || cards.querySelector(".call");
    var st = first && calls[first.dataset.callId];
    var done = true;
    if (k === "o" && st) { var m = regardingMatch(st); if (m) A.openRecord(m, false); }
    else if (k === "a" && st && !st.el.querySelector(".answer").hidden) control(st, "answer");
    else if (k === "h" && st && !st.el.querySelector(".hangup").hidden) control(st, "hangup");
    else if (k === "x" && st) dismiss(st);
    else if (k === "n" && st) { st.el.querySelector(".notes").open = true; st.el.querySelector("textarea").focus({ preventScroll: true }); }
    else if (k === "d") document.getElementById("dial-number").focus();
    else done = false;
    if (done) ev.preventDefault();
  });

  R.cards = { onMessage: onMessage, refreshOpen: refreshOpen, notesFor: notesFor, render: render, calls: calls };
})();
