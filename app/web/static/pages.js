/* Improvements only: every page works without this file. Counts the pause before a new
   code may be asked for ("다시 보내기: 40초 후") down to zero. */
(function () {
  "use strict";
  var button = document.querySelector("[data-wait]");
  if (!button) { return; }
  var left = parseInt(button.getAttribute("data-wait"), 10) || 0;
  var waiting = button.getAttribute("data-wait-label");
  var ready = button.getAttribute("data-ready-label");
  function show() {
    button.textContent = left > 0 ? waiting.replace("{s}", String(left)) : ready;
  }
  var timer = window.setInterval(function () {
    left -= 1;
    show();
    if (left <= 0) { window.clearInterval(timer); }
  }, 1000);
}());
