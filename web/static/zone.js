// Times in the site's zone: every <time datetime="..." data-local> is rewritten in the zone
// the page's [data-zone] element names (the site's setting) or, when it names none, in the
// browser's own zone; [data-browser-zone] shows the browser's zone's name. Without script
// the server's UTC text stays.
(function () {
  "use strict";
  var marked = document.querySelector("[data-zone]");
  var zone = (marked && marked.getAttribute("data-zone")) || undefined;
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
