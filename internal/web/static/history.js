// Ringside history as a worklist: search by name or number, paging, missed calls grouped
// by number with a count and a "called back" mark, agent names instead of extensions, a
// one-line notes preview, one compact row per call with its actions together.
(function () {
  "use strict";
  var R = window.Ringside, t = R.t, F = R.fmt, el = R.el, button = R.button, cut = R.cut;
  var PAGE = 25;

  function agentOf(c) {
    var legs = c.legs || [];
    for (var i = 0; i < legs.length; i++) if (legs[i].extension === c.answered_by && legs[i].user) return legs[i].user;
    for (var j = 0; j < legs.length; j++) if (F.isTime(legs[j].answered_at) && legs[j].user) return legs[j].user;
    return c.answered_by ? t("agent.ext", { ext: c.answered_by }) : "";
  }
  function nameOf(rec) {
    var m = rec.matches && rec.matches[0];
    return rec.regarding_name || (m && m.name) || "";
  }
  function notesText(rec) {
    if (Array.isArray(rec.notes)) return rec.notes.map(function (n) { return n && n.text || ""; }).filter(Boolean).join(" · ");
    return rec.notes || "";
  }
  // group folds missed calls from one number into the newest of them (count), and marks
  // them called back when a later call with that number was answered.
  function group(recs) {
    var out = [], missedAt = {};
    var answeredAfter = {}; // number → newest answered start
    recs.forEach(function (rec) {
      var c = rec.call, n = c.remote.number || c.remote.raw;
      if (!n || c.remote.withheld) { out.push({ rec: rec, count: 1 }); return; }
      if (F.isTime(c.answered_at) && !(answeredAfter[n] > c.started_at)) answeredAfter[n] = answeredAfter[n] || c.started_at;
      if (c.missed) {
        if (missedAt[n]) { missedAt[n].count++; return; }
        var g = { rec: rec, count: 1, calledBack: !!answeredAfter[n] && answeredAfter[n] > c.started_at };
        missedAt[n] = g;
        out.push(g);
        return;
      }
      out.push({ rec: rec, count: 1 });
    });
    return out;
  }
  function row(g, opts) {
    var rec = g.rec, c = rec.call;
    var li = el("li", null, "row");
    li.dataset.callId = c.id;
    li.appendChild(el("span", F.when(c.started_at), "when nowrap"));
    var dir = el("span", c.direction === "outbound" ? "↗" : c.direction === "internal" ? "↔" : "↙", "dir");
    dir.title = t("agent.dir_" + (c.direction || "inbound"));
    dir.setAttribute("aria-label", dir.title);
    li.appendChild(dir);
    var whoBox = el("span", null, "who");
    var name = nameOf(rec);
    if (name) whoBox.appendChild(el("strong", cut(name, 60), "hname"));
    var num = el("span", c.remote.withheld ? t("agent.withheld") : cut(c.remote.raw, 40), "hnum nowrap");
    if (c.remote.number) num.title = "E.164: " + c.remote.number;
    whoBox.appendChild(num);
    if (!name && c.remote.name) whoBox.appendChild(el("span", t("agent.caller_id", { name: cut(c.remote.name, 40) }), "muted small"));
    li.appendChild(whoBox);
    var res, cls = "result";
    if (c.missed) {
      res = g.count > 1 ? t("agent.missed_count", { count: g.count }) : t("agent.state_missed");
      cls += " missed";
    } else if (F.isTime(c.answered_at)) {
      var end = F.isTime(c.ended_at) ? new Date(c.ended_at) : new Date();
      res = t("agent.answered_by", { name: agentOf(c), duration: F.duration(end - new Date(c.answered_at)) });
    } else res = c.state === "ended" ? (c.direction === "outbound" ? t("agent.state_no_answer") : t("agent.state_not_answered")) : t("agent.in_progress");
    var rs = el("span", res, cls);
    if (g.calledBack) rs.appendChild(el("span", " " + t("agent.called_back"), "called-back"));
    li.appendChild(rs);
    var nt = notesText(rec);
    li.appendChild(el("span", nt ? cut(nt.split("\n")[0], 120) : "", "preview muted"));
    var actions = el("span", null, "row-actions");
    if (!opts.record) {
      if (!c.remote.withheld && c.remote.raw && R.canDial()) {
        actions.appendChild(button(t("common.call"), "small", function (ev) {
          R.dial(R.app.api, c.remote.number || c.remote.raw, li.querySelector(".row-status"));
        }));
      }
      var target = null, m = rec.matches && rec.matches[0];
      if (rec.regarding) (rec.matches || []).forEach(function (x) { if (x.entity === rec.regarding.entity && x.id === rec.regarding.id) target = x; });
      target = target || m;
      if (target && (R.safeURL(target.url) || R.app.cif)) actions.appendChild(button(t("agent.open"), "small", function () { R.app.openRecord(target, false); }));
      if (c.direction !== "internal") actions.appendChild(button(nt ? t("agent.edit_notes") : t("agent.add_notes"), "small", function () { R.cards.notesFor(rec); }));
    }
    li.appendChild(actions);
    li.appendChild(el("span", "", "row-status status"));
    return li;
  }

  var list = document.getElementById("history");
  var form = document.getElementById("hist-form");
  if (!list || !form) {
    R.history = { load: function () {}, forRecord: forRecord };
    return;
  }
  var q = document.getElementById("hist-q");
  var missedOnly = document.getElementById("missed-only");
  var status = document.getElementById("hist-status");
  var more = document.getElementById("hist-more");
  var seq = 0, recs = [], oldest = "";
  function url(before) {
    var u = "/api/v1/calls?mine=1&limit=" + PAGE;
    if (missedOnly.checked) u += "&missed=1";
    if (q.value.trim()) u += "&q=" + encodeURIComponent(q.value.trim());
    if (before) u += "&before=" + encodeURIComponent(before);
    return u;
  }
  function draw() {
    list.textContent = "";
    group(recs).forEach(function (g) { list.appendChild(row(g, {})); });
    if (!recs.length) list.appendChild(el("li", q.value.trim() ? t("agent.hist_no_match") : missedOnly.checked ? t("agent.hist_no_missed") : t("agent.hist_empty"), "muted empty"));
  }
  function load() {
    var s = ++seq;
    return R.app.api("GET", url("")).then(function (j) {
      if (s !== seq) return;
      status.textContent = "";
      recs = j.calls || [];
      oldest = recs.length ? recs[recs.length - 1].call.started_at : "";
      more.hidden = recs.length < PAGE;
      draw();
    }).catch(function (err) { status.textContent = t("agent.hist_failed", { reason: err.message }); });
  }
  more.addEventListener("click", function () {
    var s = seq;
    R.app.api("GET", url(oldest)).then(function (j) {
      if (s !== seq) return;
      var page = j.calls || [];
      recs = recs.concat(page);
      if (page.length) oldest = page[page.length - 1].call.started_at;
      more.hidden = page.length < PAGE;
      draw();
    }).catch(function (err) { status.textContent = t("agent.hist_failed", { reason: err.message }); });
  });
  var timer = null;
  q.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(load, 250); });
  form.addEventListener("submit", function (ev) { ev.preventDefault(); load(); });
  missedOnly.addEventListener("change", load);

  // forRecord lists the calls logged with a record (the record page).
  function forRecord(api, ol) {
    var u = "/api/v1/calls?limit=50&regarding=" + encodeURIComponent(ol.dataset.refEntity + "/" + ol.dataset.refId);
    api("GET", u).then(function (j) {
      ol.textContent = "";
      group(j.calls || []).forEach(function (g) { ol.appendChild(row(g, { record: true })); });
      if (!(j.calls || []).length) ol.appendChild(el("li", t("record.no_calls"), "muted empty"));
    }).catch(function (err) { document.getElementById("rec-calls-status").textContent = err.message; });
  }
  R.history = { load: load, forRecord: forRecord };
})();
