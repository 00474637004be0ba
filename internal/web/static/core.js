// Ringside page helpers shared by the other scripts: building elements (always with
// textContent: caller and CRM strings are hostile input), the API client, and errors in
// plain words.
(function () {
  "use strict";
  var R = window.Ringside = window.Ringside || {};
  var t = R.t;

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
  // api returns a client for the JSON API; its errors carry .status and a plain-words
  // .message (a failed fetch is "no connection", not "Failed to fetch").
  function api(csrf) {
    return function (method, path, body) {
      var opts = { method: method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
      if (body !== undefined) {
        opts.headers["Content-Type"] = "application/json";
        opts.body = JSON.stringify(body);
      }
      return fetch(path, opts).catch(function () {
        var e = new Error(t("common.error_network")); e.status = 0; throw e;
      }).then(function (r) {
        if (r.status === 401) {
          location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
          var e = new Error(t("common.error_session")); e.status = 401; throw e;
        }
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) {
            var msg = r.status === 403 ? t("common.error_forbidden") : r.status >= 500 && r.status !== 501 && r.status !== 502 ? t("common.error_server", { status: r.status }) : (j.error || t("common.error_server", { status: r.status }));
            var err = new Error(msg); err.status = r.status; err.detail = j.error || ""; err.body = j; throw err;
          }
          return j;
        });
      });
    };
  }
  R.el = el;
  R.button = button;
  R.cut = cut;
  R.safeURL = safeURL;
  R.api = api;
})();
