// Draws the overview's charts from the JSON the page embeds (no inline script: the
// Content-Security-Policy allows scripts from Stride's own origin only).
(function () {
  var el = document.getElementById("chart-data");
  if (!el || !window.Chart) return;
  var d = JSON.parse(el.textContent);
  var activity = new Chart(document.getElementById("activity-chart"), {
    type: "bar",
    data: {
      labels: d.days,
      datasets: [
        { label: "Learner steps", data: d.steps, backgroundColor: "#1f5fbf" },
        { label: "Completions", data: d.completions, backgroundColor: "#1b6b3a" }
      ]
    },
    options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  document.querySelectorAll("[data-range]").forEach(function (b) {
    b.addEventListener("click", function () {
      var week = b.dataset.range === "week";
      activity.data.labels = week ? d.weeks : d.days;
      activity.data.datasets[0].data = week ? d.weekSteps : d.steps;
      activity.data.datasets[1].data = week ? d.weekCompletions : d.completions;
      activity.update();
      document.querySelectorAll("[data-range]").forEach(function (o) { o.setAttribute("aria-pressed", String(o === b)); });
    });
  });
  new Chart(document.getElementById("histogram-chart"), {
    type: "bar",
    data: {
      labels: ["0–9%", "10–19%", "20–29%", "30–39%", "40–49%", "50–59%", "60–69%", "70–79%", "80–89%", "90–99%", "100%"],
      datasets: [{ label: "Enrollments", data: d.histogram, backgroundColor: "#545e6f" }]
    },
    options: { animation: false, responsive: true, maintainAspectRatio: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
})();
