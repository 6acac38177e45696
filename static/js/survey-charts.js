// Survey analytics charts (Chart.js, vendored). Data comes from the page's data-charts attribute,
// computed on the server from real aggregates; no inline script (CSP).
(function () {
  "use strict";
  var root = document.getElementById("survey-charts");
  if (!root || typeof Chart === "undefined") return;
  var data;
  try { data = JSON.parse(root.getAttribute("data-charts") || "{}"); } catch (e) { return; }
  var L = data.labels || {};
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  function draw(canvas) {
    var key = canvas.getAttribute("data-chart");
    var s = data[key];
    if (!s || !s.labels || !s.labels.length) {
      canvas.parentNode.textContent = "—";
      return;
    }
    var line = key === "trend";
    new Chart(canvas, {
      type: line ? "line" : "bar",
      data: {
        labels: s.labels,
        datasets: [
          { type: line ? "line" : "bar", label: L.average, data: s.average, yAxisID: "y",
            borderColor: "#0d6efd", backgroundColor: "rgba(13,110,253,0.55)", tension: 0.3 },
          { type: "line", label: L.negative, data: s.negative, yAxisID: "y1",
            borderColor: "#dc3545", backgroundColor: "#dc3545", pointRadius: 3, tension: 0.3 }
        ]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        locale: data.rtl ? "ar" : "en",
        plugins: { legend: { rtl: !!data.rtl, position: "bottom" } },
        scales: {
          x: { reverse: !!data.rtl },
          y: { min: 0, max: 100, position: data.rtl ? "right" : "left", title: { display: true, text: L.average } },
          y1: { min: 0, position: data.rtl ? "left" : "right", grid: { drawOnChartArea: false },
                ticks: { precision: 0 }, title: { display: true, text: L.negative } }
        }
      }
    });
  }
  root.querySelectorAll("canvas[data-chart]").forEach(draw);
})();
