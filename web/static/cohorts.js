// Draws the course page's cohorts chart from the JSON the page embeds (no inline script:
// the Content-Security-Policy allows scripts from Stride's own origin only). Cohorts not
// yet N days old are null: no point is drawn for them.
(function () {
  var el = document.getElementById("cohort-data");
  var canvas = document.getElementById("cohort-chart");
  if (!el || !canvas || !window.Chart) return;
  var d = JSON.parse(el.textContent);
  var colours = ["#9ab8e6", "#1f5fbf", "#0b2f66"];
  var datasets = d.days.map(function (n, i) {
    return { type: "line", label: "Median progress after " + n + " days", data: d.median[i], borderColor: colours[i],
      backgroundColor: colours[i], spanGaps: false, yAxisID: "y" };
  });
  datasets.push({ type: "bar", label: "Completed now", data: d.rate, backgroundColor: "rgba(27, 107, 58, 0.35)", yAxisID: "y" });
  new Chart(canvas, {
    data: { labels: d.months, datasets: datasets },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, max: 100, ticks: { callback: function (v) { return v + "%"; } } } },
      plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + (c.parsed.y === null ? "—" : c.parsed.y + "%"); } } } }
    }
  });
})();
