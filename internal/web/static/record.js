// Ringside record page: a Call button beside each number (honest: hidden with a reason
// when this user cannot dial) and the calls logged with the record.
(function () {
  "use strict";
  var R = window.Ringside, t = R.t;
  var rec = document.getElementById("record");
  if (!rec) return;
  var api = R.api(rec.dataset.csrf);
  R.dialReady(api, function (me) {
    var btns = rec.querySelectorAll("button[data-dial]");
    var reason = document.getElementById("dial-reason");
    if (!me.can_dial) {
      btns.forEach(function (b) { b.hidden = true; });
      reason.textContent = R.dialReason(me);
      reason.hidden = false;
    }
  });
  rec.addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-dial]");
    if (!b) return;
    R.dial(api, b.dataset.dial, b.parentNode.querySelector(".status"));
  });
  if (R.history) R.history.forRecord(api, document.getElementById("rec-calls"));
})();
