// "Copy emails": copies the emails of the rows a learner list shows, comma-separated, to
// paste into a mail's To field. A static file: the Content-Security-Policy allows no
// inline script. Inside the Thinkific admin's frame the Clipboard API may be refused, so
// a selected, off-screen text area and the copy command are tried next.
(function () {
  function fallback(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "offscreen";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok;
  }
  document.querySelectorAll("[data-copy-emails]").forEach(function (button) {
    var table = button.getAttribute("data-copy-emails");
    var status = document.querySelector('[data-copy-status="' + table + '"]');
    button.addEventListener("click", function () {
      var seen = {}, emails = [];
      document.querySelectorAll("#" + table + " [data-email]").forEach(function (cell) {
        var e = cell.getAttribute("data-email");
        if (e && !seen[e]) { seen[e] = true; emails.push(e); }
      });
      var text = emails.join(", ");
      button.setAttribute("data-copied", text);
      function say(msg) { if (status) status.textContent = msg; }
      if (emails.length === 0) { say("No emails on this page."); return; }
      var done = emails.length + (emails.length === 1 ? " email copied." : " emails copied.");
      var failed = "Copying was refused; select the emails in the CSV export instead.";
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () { say(done); }, function () { say(fallback(text) ? done : failed); });
      } else {
        say(fallback(text) ? done : failed);
      }
    });
  });
})();
