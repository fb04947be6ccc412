/* The chart on a site's admin page: the reconciled estimate in its 90 % band,
   every report as a point coloured by source (bounds as triangles, ranges as
   bars), departure notices as dashed vertical lines, distributions as squares.
   Data comes from the site's chart-data URL; Chart.js is vendored (no CDN). */
(function () {
  "use strict";
  const PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"];
  const DAY = 86400000;
  const t = (iso) => Date.parse(iso + "T00:00:00Z");
  const fmt = (n) => (n === null || n === undefined ? "?" : Number(n).toLocaleString());
  const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

  // Dashed vertical lines for departure notices, drawn under the data.
  const noticeLines = {
    id: "noticeLines",
    beforeDatasetsDraw(chart, args, options) {
      const { ctx, chartArea, scales } = chart;
      ctx.save();
      ctx.setLineDash([6, 4]);
      ctx.strokeStyle = "#a50f15";
      for (const notice of options.notices || []) {
        const x = scales.x.getPixelForValue(t(notice.date));
        if (x < chartArea.left || x > chartArea.right) continue;
        ctx.beginPath();
        ctx.moveTo(x, chartArea.top);
        ctx.lineTo(x, chartArea.bottom);
        ctx.stroke();
      }
      ctx.restore();
    },
  };

  async function draw(container) {
    const labels = JSON.parse(container.dataset.labels);
    const response = await fetch(container.dataset.url, { credentials: "same-origin" });
    const data = await response.json();
    if (!data.estimates.length && !data.reports.length) {
      container.textContent = labels.none;
      container.style.height = "auto";
      return;
    }
    const datasets = [
      {
        label: labels.band,
        data: data.estimates.map((e) => ({ x: t(e.date), y: e.high })),
        type: "line", borderWidth: 0, pointRadius: 0, fill: "+1",
        backgroundColor: "rgba(66, 146, 198, 0.25)", order: 5,
      },
      {
        label: "_low", data: data.estimates.map((e) => ({ x: t(e.date), y: e.low })),
        type: "line", borderWidth: 0, pointRadius: 0, fill: false, order: 5,
      },
      {
        label: labels.estimate,
        data: data.estimates.map((e) => ({ x: t(e.date), y: e.estimate, flags: e.flags })),
        type: "line", borderColor: "#08519c", borderWidth: 2, pointRadius: 0, fill: false, order: 4,
      },
    ];
    const sources = [...new Set(data.reports.map((r) => r.source))];
    sources.forEach((source, index) => {
      const colour = PALETTE[index % PALETTE.length];
      const mine = data.reports.filter((r) => r.source === source);
      const counting = (r) => r.status !== "rejected" && r.status !== "retracted";
      const point = (r) => ({ x: t(r.date), y: r.value, report: r });
      datasets.push({
        label: mine[0].source_name,
        type: "scatter",
        data: mine.filter((r) => r.qualifier !== "range" && r.value !== null).map(point),
        pointStyle: (ctx) => {
          const r = ctx.raw && ctx.raw.report;
          return r && (r.qualifier === "at_least" || r.qualifier === "at_most") ? "triangle" : "circle";
        },
        rotation: (ctx) => (ctx.raw && ctx.raw.report && ctx.raw.report.qualifier === "at_most" ? 180 : 0),
        radius: 6,
        borderColor: colour,
        borderWidth: 2,
        backgroundColor: (ctx) => (ctx.raw && ctx.raw.report && !counting(ctx.raw.report) ? "#fff" : colour),
        order: 1,
      });
      const ranges = mine.filter((r) => r.qualifier === "range" && r.low !== null && r.high !== null);
      if (ranges.length) {
        datasets.push({
          label: "_range " + source,
          type: "bar",
          data: ranges.map((r) => ({ x: t(r.date), y: [r.low, r.high], report: r })),
          backgroundColor: colour,
          barThickness: 5,
          order: 2,
        });
      }
    });
    if (data.distributions.length) {
      datasets.push({
        label: labels.distribution,
        type: "scatter",
        data: data.distributions.map((d) => ({ x: t(d.date), y: 0, distribution: d })),
        pointStyle: "rect", radius: 7, backgroundColor: "#54278f", order: 0,
      });
    }
    const days = data.estimates.map((e) => t(e.date)).concat(data.reports.map((r) => t(r.date)));
    const rtl = container.dataset.rtl === "true";
    new Chart(document.getElementById("site-chart-canvas"), {
      type: "scatter",
      data: { datasets },
      plugins: [noticeLines],
      options: {
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "nearest", intersect: true },
        scales: {
          x: {
            type: "linear",
            min: Math.min(...days) - DAY,
            max: Math.max(...days) + DAY,
            reverse: rtl,
            ticks: { callback: (value) => isoDay(value), maxTicksLimit: 8 },
          },
          y: { beginAtZero: true, position: rtl ? "right" : "left", title: { display: true, text: labels.people },
               ticks: { callback: (value) => fmt(value) } },
        },
        plugins: {
          noticeLines: { notices: data.notices },
          legend: { rtl, labels: { filter: (item) => !item.text.startsWith("_") } },
          tooltip: {
            rtl,
            callbacks: {
              title: (items) => isoDay(items[0].raw.x),
              label: (item) => {
                const raw = item.raw;
                if (raw.report) {
                  const r = raw.report;
                  const lines = [`${r.source_name} (${r.grade || "?"}): ${r.qualifier_label} ${r.figure} — ${r.status_label}`];
                  if (r.is_outlier) lines.push(labels.outlier);
                  if (r.weight !== null) lines.push(`weight ${Number(r.weight).toFixed(2)}`);
                  if (r.quote) lines.push(`“${r.quote.slice(0, 140)}”`);
                  return lines;
                }
                if (raw.distribution) {
                  const d = raw.distribution;
                  return `${labels.distribution}: ${d.item} ${d.quantity === null ? "" : fmt(d.quantity) + " " + d.unit} — ${d.provider}`;
                }
                if (item.dataset.label === labels.estimate) {
                  const e = data.estimates.find((x) => t(x.date) === raw.x);
                  return `${labels.estimate} ${fmt(e.estimate)} (${fmt(e.low)}–${fmt(e.high)}) ${e.flags.join(", ")}`;
                }
                return `${item.dataset.label}: ${fmt(raw.y)}`;
              },
            },
          },
        },
      },
    });
    container.dataset.drawn = String(data.reports.length);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const container = document.getElementById("site-chart");
    if (container && window.Chart) draw(container);
  });
})();
