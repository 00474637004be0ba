// Ringside admin console: what every admin page shares (the API client with the CSRF
// token, status lines, tables, two-click confirmation, secrets shown once). Each page's
// own script is admin-PAGE.js. Every text comes from the catalogue (R.t); values from
// the server go into the page as text.
(function () {
  "use strict";
  var R = window.Ringside;
  var t = R.t, el = R.el;
  var root = document.getElementById("admin");
  var csrf = root.getAttribute("data-csrf");
  var api = R.api(csrf);

  // say puts text into a status line; kind "ok" or "error" colours it.
  function say(node, text, kind) {
    node.textContent = text || "";
    if (kind) node.setAttribute("data-kind", kind); else node.removeAttribute("data-kind");
  }
  function status(text, kind) { say(document.getElementById("status"), text, kind); }

  // errorText is an API error in the page's words where the catalogue has them.
  function errorText(e) {
    var b = e.body || {};
    if (e.status === 409 && b.field === "extensions" && b.user) return t("admin.ext_taken", { ext: b.extension, user: b.user });
    return e.message;
  }

  // fill replaces a table body's rows with fn(item) for each item, or one row saying
  // empty.
  function fill(table, items, fn, empty) {
    var tbody = table.tBodies[0];
    tbody.replaceChildren();
    if (!items.length) {
      var tr = el("tr"), td = el("td", empty, "empty muted");
      td.colSpan = table.tHead && table.tHead.rows[0] ? table.tHead.rows[0].cells.length : 1;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    items.forEach(function (it) { tbody.appendChild(fn(it)); });
  }
  // row builds a table row of text cells; a cell may be a Node.
  function row(cells) {
    var tr = el("tr");
    cells.forEach(function (c) {
      var td = el("td");
      if (c instanceof Node) td.appendChild(c); else if (c !== undefined && c !== null) td.textContent = String(c);
      tr.appendChild(td);
    });
    return tr;
  }
  // head fills a table head with the catalogue texts of keys.
  function head(table, keys) {
    var tr = el("tr");
    keys.forEach(function (k) { var th = el("th", t(k)); th.scope = "col"; tr.appendChild(th); });
    table.tHead.replaceChildren(tr);
  }
  // confirmButton runs action on a second click within five seconds.
  function confirmButton(text, cls, action) {
    var timer = null;
    var b = R.button(text, cls, function () {
      if (b.getAttribute("data-armed") === "1") {
        clearTimeout(timer);
        b.removeAttribute("data-armed");
        b.textContent = text;
        action(b);
        return;
      }
      b.setAttribute("data-armed", "1");
      b.textContent = t("admin.confirm_again");
      timer = setTimeout(function () { b.removeAttribute("data-armed"); b.textContent = text; }, 5000);
    });
    return b;
  }
  // showSecret shows a password or token once, with a Copy button.
  function showSecret(text) {
    var box = document.getElementById("secret");
    var p = box.querySelector(".secret-text");
    p.replaceChildren(el("span", text, "secret-value"), document.createTextNode(" "), R.button(t("admin.copy"), "small", function (ev) {
      var btn = ev.currentTarget;
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(function () { btn.textContent = t("admin.copied"); }, function () {});
    }));
    box.hidden = false;
  }
  function hideSecret() { document.getElementById("secret").hidden = true; }
  // upload posts a file as the request body.
  function upload(path, file) {
    return fetch(path, { method: "POST", body: file, credentials: "same-origin", headers: { "X-CSRF-Token": csrf, "Content-Type": "text/csv" } })
      .catch(function () { var e = new Error(t("common.error_network")); e.status = 0; throw e; })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) { var e = new Error(j.error || t("common.error_server", { status: r.status })); e.status = r.status; e.body = j; throw e; }
          return j;
        });
      });
  }
  function yesNo(v) { return v ? t("admin.yes") : t("admin.no"); }

  R.admin = { api: api, say: say, status: status, errorText: errorText, fill: fill, row: row, head: head,
    confirmButton: confirmButton, showSecret: showSecret, hideSecret: hideSecret, upload: upload, yesNo: yesNo };
})();
