// Times in the browser's own zone, where a page leaves the zone to it: every
// <time datetime="..." data-local> is rewritten with the browser's zone (or the zone named
// by <html data-zone>), and [data-browser-zone] shows that zone's name. Without script the
// server's UTC text stays.
(function () {
  "use strict";
  var zone = document.documentElement.getAttribute("data-zone") || undefined;
  var fmt = null;
  try {
    fmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
      timeZone: zone, timeZoneName: "short" });
  } catch (e) {
    // An unknown zone: the server's UTC text stays.
  }
  if (fmt) {
    document.querySelectorAll("time[datetime][data-local]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) {
        el.textContent = fmt.format(d);
      }
    });
  }
  var own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  document.querySelectorAll("[data-browser-zone]").forEach(function (el) { el.textContent = own; });
  document.querySelectorAll("[data-browser-zone-hint]").forEach(function (el) { el.hidden = !own; });
})();
