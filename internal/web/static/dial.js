// Ringside click-to-dial: asks GET /api/v1/me once whether this user can place calls and
// through what; Call buttons are hidden with the reason in words when not, and each
// result shows right next to what was clicked.
(function () {
  "use strict";
  var R = window.Ringside, t = R.t;
  var mePromise = null;
  var me = null;

  // ready calls fn with GET /api/v1/me (asked once per page).
  function ready(api, fn) {
    if (!mePromise) mePromise = api("GET", "/api/v1/me").then(function (j) { me = j; return j; });
    return mePromise.then(fn);
  }
  function reason(m) {
    m = m || me || {};
    switch (m.dial_reason) {
    case "no_extension": return t("common.dial_no_extension");
    case "unsupported": return t("common.dial_unsupported");
    default: return t("common.dial_not_possible");
    }
  }
  function via(m) {
    m = m || me || {};
    return m.dial_via === "companion" ? t("common.dial_via_companion") : m.dial_via ? t("common.dial_via_pbx") : "";
  }
  function can() { return !!(me && me.can_dial); }
  // dial places a call to number and writes what happened into status (an element next
  // to the button).
  function dial(api, number, status) {
    number = String(number || "").trim();
    if (!number) return Promise.resolve();
    var show = R.cut(number, 64);
    if (status) { status.textContent = t("common.calling", { number: show }); status.dataset.kind = "busy"; }
    return api("POST", "/api/v1/dial", { number: number })
      .then(function () { if (status) { status.textContent = t("common.dial_ok", { number: show }); status.dataset.kind = "ok"; } })
      .catch(function (err) {
        var why = err.status === 501 ? t("common.dial_unsupported") : err.message;
        if (status) { status.textContent = t("common.dial_failed", { reason: why }); status.dataset.kind = "error"; }
      });
  }
  R.dialReady = ready;
  R.dialReason = reason;
  R.dialVia = via;
  R.canDial = can;
  R.dial = dial;
})();
