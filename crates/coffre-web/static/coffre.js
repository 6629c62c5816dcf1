// Warns a minute before an idle session ends (RGAA 13.1) and lets the
// person continue. Only an improvement: without it, the page still says
// when the session ends, and any action keeps it open.
(function () {
  "use strict";
  var idle = parseInt(document.body.getAttribute("data-idle") || "0", 10);
  var box = document.getElementById("fin-session");
  if (!idle || !box) { return; }
  var warnAt = Math.max(idle - 60, 1) * 1000;
  setTimeout(function () {
    box.hidden = false;
    var button = box.querySelector("button");
    if (button) { button.focus(); }
  }, warnAt);
  // The ended session's next page deletes the cookie and says so.
  setTimeout(function () { window.location.assign("/papiers"); }, idle * 1000 + 1000);
})();
