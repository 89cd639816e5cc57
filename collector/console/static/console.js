// The console's only script: SLA countdowns tick, and pages marked data-refresh reload themselves
// (unless someone is typing in a form).
(function () {
  "use strict";
  function span(ms) {
    var m = Math.floor(Math.abs(ms) / 60000), d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60);
    if (d) return d + "天" + h + "小时";
    if (h) return h + "小时" + (m % 60) + "分";
    return (m % 60) + "分";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-due")) - now;
      el.textContent = left >= 0 ? "剩余 " + span(left) : "已超时 " + span(left);
      if (left < 0) el.classList.add("sla-breached");
    });
  }
  tick();
  setInterval(tick, 15000);
  var refresh = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (refresh > 0) {
    setInterval(function () {
      var a = document.activeElement;
      if (!a || ["INPUT", "TEXTAREA", "SELECT"].indexOf(a.tagName) < 0) location.reload();
    }, refresh * 1000);
  }
  // forms that cannot be undone (reset a password, replace an API key, disable a user) ask first
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
  document.querySelectorAll("button[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
})();
