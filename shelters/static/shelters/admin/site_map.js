/* Sites on a map (Leaflet, vendored): circle area by reconciled population,
   colour by the flag that most needs attention. Tiles only if configured. */
(function () {
  "use strict";
  const COLOURS = { conflict: "#d7301f", outlier: "#fe9929", stale: "#969696" };
  document.addEventListener("DOMContentLoaded", () => {
    const element = document.getElementById("site-map");
    if (!element || !window.L) return;
    const features = JSON.parse(document.getElementById("site-features").textContent);
    const map = L.map(element, { preferCanvas: true });
    if (element.dataset.tiles) {
      L.tileLayer(element.dataset.tiles, { attribution: element.dataset.attribution, maxZoom: 18 }).addTo(map);
    }
    const largest = Math.max(1, ...features.features.map((f) => f.properties.estimate || 0));
    const layer = L.geoJSON(features, {
      pointToLayer: (feature, latlng) => {
        const p = feature.properties;
        const flag = ["conflict", "outlier", "stale"].find((name) => p.flags.includes(name));
        return L.circleMarker(latlng, {
          radius: 4 + 26 * Math.sqrt((p.estimate || 0) / largest),
          color: COLOURS[flag] || "#2171b5",
          fillColor: COLOURS[flag] || "#2171b5",
          fillOpacity: 0.45,
          weight: 1.5,
        });
      },
      onEachFeature: (feature, marker) => {
        const p = feature.properties;
        const url = element.dataset.changeUrl.replace("/0/", `/${p.id}/`);
        const figure = p.estimate === null ? "–" : `${p.estimate.toLocaleString()} (${p.low.toLocaleString()}–${p.high.toLocaleString()})`;
        const popup = document.createElement("div");
        const link = document.createElement("a");
        link.href = url;
        link.textContent = `${p.code} · ${p.name}`;
        popup.appendChild(link);
        if (p.name_ar) {
          const arabic = document.createElement("div");
          arabic.dir = "rtl";
          arabic.lang = "ar";
          arabic.textContent = p.name_ar;
          popup.appendChild(arabic);
        }
        const line = document.createElement("div");
        line.textContent = `${figure} ${p.flags.join(", ")}`;
        popup.appendChild(line);
        marker.bindPopup(popup);
      },
    }).addTo(map);
    if (features.features.length) {
      map.fitBounds(layer.getBounds().pad(0.2), { maxZoom: 11 });
    } else {
      map.setView([35.0, 38.0], 6);
    }
    element.dataset.markers = String(features.features.length);
  });
})();
