// Keeps the Connection page's import section current while an import is queued or
// running: the page is fetched again every few seconds and only that section replaced, so
// the rest of the page and where the admin scrolled stay as they are.
// (No inline script: the Content-Security-Policy allows scripts from Stride's origin only.)
(function () {
  var every = 3000;
  function tick() {
    var section = document.getElementById("import");
    if (!section || !section.hasAttribute("data-active")) return;
    fetch(location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("import");
        if (!next) return;
        section.replaceWith(next); // nothing in it takes the focus while it runs
        setTimeout(tick, every);
      })
      .catch(function () { setTimeout(tick, 5 * every); }); // a session that ended, a restart: try less often
  }
  setTimeout(tick, every);
})();
