// Ringside i18n: the page's message catalogue (a JSON script tag the server fills in the
// page's language) and Intl formatting in the user's locale and time zone. Every text
// the page's JavaScript shows goes through t(); caller- or CRM-supplied strings are
// placeholder values, always put into the page with textContent.
(function () {
  "use strict";
  var R = window.Ringside = window.Ringside || {};
  var lang = document.documentElement.lang || "en";
  var cat = {};
  try { cat = JSON.parse((document.getElementById("i18n") || {}).textContent || "{}"); } catch (e) { cat = {}; }
  var plural = window.Intl && Intl.PluralRules ? new Intl.PluralRules(lang) : null;

  // t returns the text of key with {name} placeholders filled from params. With a count
  // param, key_one/key_other are chosen by the language's plural rules. A missing key
  // shows itself in brackets (the server already filled gaps with English).
  function t(key, params) {
    params = params || {};
    var s = cat[key];
    if (typeof params.count === "number" && plural) {
      var v = cat[key + "_" + plural.select(params.count)];
      if (v === undefined) v = cat[key + "_other"];
      if (v !== undefined) s = v;
    }
    if (s === undefined) return "[" + key + "]";
    return s.replace(/\{([a-z_][a-z0-9_]*)\}/g, function (m, name) {
      return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : m;
    });
  }
  function has(key) { return Object.prototype.hasOwnProperty.call(cat, key); }

  function fmt(opts) {
    try { return new Intl.DateTimeFormat(lang, opts); } catch (e) { return new Intl.DateTimeFormat(undefined, opts); }
  }
  var fTime = fmt({ hour: "2-digit", minute: "2-digit" });
  var fTimeSec = fmt({ hour: "2-digit", minute: "2-digit", second: "2-digit" });
  var fDay = fmt({ day: "numeric", month: "short" });
  var fDayYear = fmt({ day: "numeric", month: "short", year: "numeric" });
  var fFull = fmt({ dateStyle: "medium", timeStyle: "short" });
  var fNum = window.Intl ? new Intl.NumberFormat(lang) : null;

  function isTime(v) { return typeof v === "string" && v > "2000"; }
  // time is hh:mm (with seconds when asked) in the user's locale and time zone.
  function time(v, seconds) { return isTime(v) ? (seconds ? fTimeSec : fTime).format(new Date(v)) : ""; }
  // when is the time for today's calls, "yesterday, 14:05" and the date for older ones.
  function when(v) {
    if (!isTime(v)) return "";
    var d = new Date(v), now = new Date();
    if (d.toDateString() === now.toDateString()) return fTime.format(d);
    var y = new Date(now); y.setDate(now.getDate() - 1);
    if (d.toDateString() === y.toDateString()) return t("common.yesterday_at", { time: fTime.format(d) });
    var day = d.getFullYear() === now.getFullYear() ? fDay.format(d) : fDayYear.format(d);
    return t("common.date_at", { date: day, time: fTime.format(d) });
  }
  function full(v) { return isTime(v) ? fFull.format(new Date(v)) : ""; }
  // duration is a clock-style m:ss or h:mm:ss; it reads the same in every language and
  // keeps its width as it runs (tabular digits in the CSS).
  function duration(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s % 60).padStart(2, "0");
  }
  function number(n) { return fNum ? fNum.format(n) : String(n); }

  R.lang = lang;
  R.t = t;
  R.has = has;
  R.fmt = { isTime: isTime, time: time, when: when, full: full, duration: duration, number: number };
})();
