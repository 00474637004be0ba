// Admin console, Statistics: a range per day or hour; the chart is the server's SVG,
// the tables are the same figures in rows, the CSV link downloads them.
(function () {
  "use strict";
  var R = window.Ringside, A = R.admin, t = R.t, F = R.fmt;
  var form = document.getElementById("stats-form");
  var chart = document.getElementById("chart");
  var csv = document.getElementById("csv");
  var tz = "";
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { tz = ""; }
  var cols = ["admin.col_in", "admin.col_out", "admin.col_answered", "admin.col_missed", "admin.col_missed_open", "admin.col_answer_avg", "admin.col_answer_p90", "admin.col_talk"];

  var byExt = {}; // extension → "name (ext)", for agents the journal knows by extension

  function iso(d) { return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0"); }
  function dayAfter(s) { var d = new Date(s + "T12:00:00"); d.setDate(d.getDate() + 1); return iso(d); }
  var today = new Date(), start = new Date();
  start.setDate(today.getDate() - 29);
  form.elements.from.value = iso(start);
  form.elements.to.value = iso(today);

  function one(n) { return F.number(Math.round(n * 10) / 10); }
  function figures(f) {
    return [F.number(f.calls_in), F.number(f.calls_out), F.number(f.answered), F.number(f.missed), F.number(f.missed_not_called_back),
      one(f.answer_avg_s), one(f.answer_p90_s), F.duration(f.talk_s * 1000)];
  }
  var fDay = new Intl.DateTimeFormat(R.lang, { weekday: "short", day: "numeric", month: "short" });
  var fHour = new Intl.DateTimeFormat(R.lang, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

  function query() {
    var f = form.elements;
    var q = "from=" + encodeURIComponent(f.from.value) + "&to=" + encodeURIComponent(dayAfter(f.to.value)) + "&step=" + encodeURIComponent(f.step.value);
    if (tz) q += "&tz=" + encodeURIComponent(tz);
    return q;
  }
  function load() {
    var q = query(), step = form.elements.step.value;
    csv.href = "/api/v1/admin/stats?format=csv&" + q;
    A.status(t("admin.loading"));
    return A.api("GET", "/api/v1/admin/stats?" + q).then(function (rep) {
      A.status(rep.total.calls_in + rep.total.calls_out ? "" : t("admin.stats_none"));
      chart.alt = t("admin.chart_alt", { step: t("admin.step_" + step) });
      chart.src = "/api/v1/admin/stats?format=svg&lang=" + encodeURIComponent(R.lang) + "&" + q;
      var total = document.getElementById("st-total");
      A.head(total, cols);
      A.fill(total, [rep.total], function (f) { return A.row(figures(f)); }, "");
      [["st-agents", rep.agents, "admin.col_key"], ["st-dids", rep.dids, "admin.col_key"]].forEach(function (x) {
        var tb = document.getElementById(x[0]);
        A.head(tb, [x[2]].concat(cols));
        A.fill(tb, x[1] || [], function (r) { return A.row([x[0] === "st-agents" && byExt[r.key] ? byExt[r.key] : r.key].concat(figures(r))); }, t("admin.stats_none"));
      });
      var bk = document.getElementById("st-buckets");
      A.head(bk, ["admin.col_period"].concat(cols));
      var fmt = step === "hour" ? fHour : fDay;
      A.fill(bk, rep.buckets || [], function (b) { return A.row([fmt.format(new Date(b.start))].concat(figures(b))); }, t("admin.stats_none"));
    }, function (e) { A.status(e.message, "error"); });
  }
  form.addEventListener("submit", function (ev) { ev.preventDefault(); load(); });
  A.api("GET", "/api/v1/admin/users").then(function (j) {
    (j.users || []).forEach(function (u) {
      (u.extensions || []).forEach(function (e) { byExt[e] = (byExt[e] ? byExt[e].replace(/ \(.*/, "") + ", " : "") + u.name + " (" + e + ")"; });
    });
  }, function () {}).then(load);
})();
