// Ringside stream: the WebSocket to /api/v1/stream with reconnects (growing waits with
// jitter), the connection state in the header, and messages handed to the cards.
(function () {
  "use strict";
  var R = window.Ringside, t = R.t;
  var conn = document.getElementById("conn");
  if (!conn || !R.cards) return;
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
    setConn("connecting", everConnected ? t("agent.conn_reconnecting") : t("agent.conn_connecting"), "◌");
    var sock = new WebSocket(proto + "//" + location.host + "/api/v1/stream");
    ws = sock;
    var opened = false;
    sock.onopen = function () {
      opened = true;
      backoff = 500;
      everConnected = true;
      setConn("connected", t("agent.conn_connected"), "●");
      R.history.load(); // calls that rang while we were away
      R.cards.refreshOpen();
    };
    sock.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      try { R.cards.onMessage(m); } catch (e) { if (window.console) console.error(e); } // a bad message must not stop the page
    };
    sock.onclose = function (ev) {
      if (ws === sock) ws = null;
      // 1008: the server ended this user's access (disabled, logged out, password
      // changed, session expired). Retrying cannot help: go to the login form.
      if (ev.code === 1008) { accessEnded(); return; }
      // Refused before it opened: maybe the session is gone. Ask once; offline, the
      // question fails and the page keeps retrying.
      if (!opened) checkSession();
      var wait = backoff + Math.floor(Math.random() * 250);
      backoff = Math.min(backoff * 2, 15000);
      setConn("disconnected", t("agent.conn_retrying", { seconds: Math.ceil(wait / 1000) }), "○");
      retryTimer = setTimeout(connect, wait);
    };
  }
  function accessEnded() {
    clearTimeout(retryTimer);
    location.href = "/login?ended=1&next=" + encodeURIComponent(location.pathname + location.search);
  }
  function checkSession() {
    fetch("/api/v1/me", { credentials: "same-origin" })
      .then(function (r) { if (r.status === 401) accessEnded(); })
      .catch(function () {});
  }
  window.addEventListener("online", function () { if (!ws) { backoff = 500; connect(); } });
  window.addEventListener("offline", function () { if (ws) ws.close(); });
  connect();
})();
