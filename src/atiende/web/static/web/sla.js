/* SLA badges: keep the time left (or overdue) current and switch the state at the warning and
   due instants. The server renders a correct badge; without this script it just stops moving. */
(function () {
  "use strict";

  var MINUTE = 60 * 1000;
  var HOUR = 60 * MINUTE;
  var DAY = 24 * HOUR;
  var STATES = ["ok", "warning", "breached"];

  if (typeof Intl === "undefined" || typeof Intl.RelativeTimeFormat !== "function") {
    return;
  }
  var relative;
  try {
    relative = new Intl.RelativeTimeFormat(document.documentElement.lang || undefined, {
      numeric: "always"
    });
  } catch (error) {
    return;
  }

  // "in 2 hours", "5 minutes ago": whole units, never more time left than there is.
  function phrase(milliseconds) {
    var size = Math.abs(milliseconds);
    if (milliseconds > 0) {
      if (size < HOUR) return relative.format(Math.ceil(size / MINUTE), "minute");
      if (size < 2 * DAY) return relative.format(Math.floor(size / HOUR), "hour");
      return relative.format(Math.floor(size / DAY), "day");
    }
    if (size < HOUR) return relative.format(-Math.max(1, Math.floor(size / MINUTE)), "minute");
    if (size < 2 * DAY) return relative.format(-Math.floor(size / HOUR), "hour");
    return relative.format(-Math.floor(size / DAY), "day");
  }

  function currentState(badge) {
    for (var index = STATES.length - 1; index >= 0; index -= 1) {
      if (badge.classList.contains("sla--" + STATES[index])) return index;
    }
    return 0;
  }

  function refresh() {
    var now = Date.now();
    var badges = document.querySelectorAll("[data-sla-due]");
    for (var index = 0; index < badges.length; index += 1) {
      var badge = badges[index];
      var due = Date.parse(badge.getAttribute("data-sla-due"));
      if (isNaN(due)) continue;
      var warn = Date.parse(badge.getAttribute("data-sla-warn") || "");
      var reached = now >= due ? 2 : !isNaN(warn) && now >= warn ? 1 : 0;
      // A state recorded by the server (a warning already given) never goes back.
      var state = Math.max(reached, currentState(badge));
      STATES.forEach(function (name) {
        badge.classList.toggle("sla--" + name, name === STATES[state]);
      });
      var label = badge.querySelector(".sla-state");
      if (label) {
        var text = state ? badge.getAttribute("data-sla-label-" + STATES[state]) : "";
        label.textContent = text ? text + ":" : "";
      }
      var time = badge.querySelector(".sla-time");
      if (time) time.textContent = phrase(due - now);
    }
  }

  refresh();
  window.setInterval(refresh, 30 * 1000);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
  });
})();
