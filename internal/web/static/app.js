// Ringside agent page: shared state (R.app), opening records (inside Dynamics 365 through
// CIF, else a new window), settings (language, ring sound, open on ring), the ring sound
// and the dial box. The cards, history and stream scripts build on it.
(function () {
  "use strict";
  var R = window.Ringside, t = R.t, cut = R.cut;
  var root = document.getElementById("app");
  if (!root) return;
  var A = R.app = {
    csrf: root.dataset.csrf,
    me: root.dataset.user,
    extensions: (root.dataset.extensions || "").split(",").filter(Boolean),
    api: R.api(root.dataset.csrf),
    settings: {},
    cif: null,
  };
  var popupWarned = false;

  function notice(text) {
    var n = document.getElementById("notice");
    n.textContent = cut(text, 300);
    n.hidden = !text;
  }
  A.notice = notice;

  // ---- Dynamics 365 Channel Integration Framework ----
  function initCIF() {
    if (A.cif || !window.Microsoft || !window.Microsoft.CIFramework) return;
    A.cif = window.Microsoft.CIFramework;
    root.classList.add("in-cif");
    try {
      A.cif.setClickToAct(true);
      A.cif.addHandler("onclicktoact", function (data) {
        var p = {};
        try { p = typeof data === "string" ? JSON.parse(data) : (data || {}); } catch (e) { /* ignore */ }
        if (p.value) { document.getElementById("dial-number").value = cut(p.value, 64); R.dial(A.api, String(p.value), dialStatus); }
        return Promise.resolve();
      });
    } catch (e) { notice(t("agent.cif_failed", { reason: e.message })); }
  }
  window.addEventListener("CIFInitDone", initCIF);
  initCIF();

  // openRecord opens m in the CRM; auto is true when no click caused it (pop-up blockers).
  A.openRecord = function (m, auto, st) {
    if (A.cif && m.entity && m.id) {
      return A.cif.openForm(JSON.stringify({ entityName: m.entity, entityId: m.id }))
        .catch(function (e) { notice(t("agent.cif_failed", { reason: (e && e.message) || e })); });
    }
    var url = R.safeURL(m.url);
    if (!url) return;
    var w = window.open(url, "_blank");
    if (w) { try { w.opener = null; } catch (e) { /* cross-origin */ } return; }
    if (!auto || popupWarned) return;
    popupWarned = true;
    var hint = document.getElementById("popup-hint");
    hint.textContent = t("agent.popup_blocked", { host: location.host });
    hint.hidden = false;
  };

  // ---- ring sound: generated with WebAudio, no file; off unless she turns it on ----
  var audio = null, ringTimer = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var now = audio.currentTime;
      [0, 0.4].forEach(function (off) {
        var o = audio.createOscillator(), g = audio.createGain();
        o.frequency.value = 440; o.type = "sine";
        g.gain.setValueAtTime(0.0001, now + off);
        g.gain.exponentialRampToValueAtTime(0.2, now + off + 0.03);
        g.gain.exponentialRampToValueAtTime(0.0001, now + off + 0.35);
        o.connect(g); g.connect(audio.destination);
        o.start(now + off); o.stop(now + off + 0.36);
      });
    } catch (e) { /* no audio */ }
  }
  R.ring = function (on) {
    on = on && A.settings.ring_sound === "on";
    if (on && !ringTimer) { beep(); ringTimer = setInterval(beep, 3000); }
    if (!on && ringTimer) { clearInterval(ringTimer); ringTimer = null; }
  };

  // ---- settings ----
  var lang = document.getElementById("set-language");
  var sound = document.getElementById("set-ring-sound");
  var openOnRing = document.getElementById("open-on-ring");
  var setStatus = document.getElementById("settings-status");
  R.dialReady(A.api, function (me) {
    A.settings = me.settings || {};
    lang.value = A.settings.language || "auto";
    sound.checked = A.settings.ring_sound === "on";
    openOnRing.checked = A.settings.open_record_on_ring === "on";
    showDial(me);
  }).catch(function () {});
  function save(body, undo, reload) {
    setStatus.textContent = t("agent.saving");
    return A.api("POST", "/api/v1/me/settings", body)
      .then(function (j) { A.settings = j.settings || {}; setStatus.textContent = t("agent.setting_saved"); if (reload) location.reload(); })
      .catch(function (err) { setStatus.textContent = t("agent.setting_not_saved", { reason: err.message }); undo(); });
  }
  lang.addEventListener("change", function () { var old = A.settings.language || "auto"; save({ language: lang.value }, function () { lang.value = old; }, true); });
  sound.addEventListener("change", function () {
    if (sound.checked) beep(); // a sample, and browsers allow audio after this click
    save({ ring_sound: sound.checked ? "on" : "off" }, function () { sound.checked = !sound.checked; });
  });
  openOnRing.addEventListener("change", function () { save({ open_record_on_ring: openOnRing.checked ? "on" : "off" }, function () { openOnRing.checked = !openOnRing.checked; }); });
  var nb = document.getElementById("notify-btn");
  if (window.Notification && Notification.permission === "default") {
    nb.hidden = false;
    nb.addEventListener("click", function () { Notification.requestPermission().then(function () { nb.hidden = Notification.permission !== "default"; }); });
  }

  // ---- dial box: shown with the way calls are placed, or replaced by the reason ----
  var dialForm = document.getElementById("dial-form");
  var dialStatus = document.getElementById("dial-status");
  var dialNumber = document.getElementById("dial-number");
  function showDial(me) {
    var btn = dialForm.querySelector("button");
    if (!me.can_dial) {
      btn.disabled = true;
      dialNumber.disabled = true;
      dialStatus.textContent = R.dialReason(me);
      dialStatus.dataset.kind = "info";
    } else if (!dialStatus.textContent) dialStatus.textContent = R.dialVia(me);
  }
  dialForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!R.canDial()) return;
    R.dial(A.api, dialNumber.value, dialStatus);
  });
  var q = new URLSearchParams(location.search).get("dial");
  if (q) {
    // A tel: link sent us here: fill the number, let the user confirm with Call.
    // URLSearchParams has decoded it once; a tel: URI may be encoded once more, and a
    // stray "%" must not stop the page (decodeURIComponent throws on it).
    var num = q.replace(/^tel:/i, "");
    try { num = decodeURIComponent(num); } catch (e) { /* keep it as it came */ }
    dialNumber.value = cut(num.replace(/;.*$/, "").replace(/[\u0000-\u001f\u007f]/g, ""), 64);
    dialStatus.textContent = t("agent.dial_confirm");
  }
  try {
    if (navigator.registerProtocolHandler && !A.cif && window.top === window.self) navigator.registerProtocolHandler("tel", location.origin + "/?dial=%s");
  } catch (e) { /* not over https, or refused */ }
})();
