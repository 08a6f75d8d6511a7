// Study page: each series' thumbnail appears as the task worker makes it. Without this script
// the page shows "aperçu en préparation" until it is reloaded. No inline code (CSP).
(function () {
  "use strict";
  var grid = document.querySelector("[data-previews]");
  if (!grid || !window.fetch || !grid.querySelector(".thumb-placeholder:not(.thumb-unavailable)")) return;
  var url = grid.getAttribute("data-previews");
  var delay = 2000;
  var deadline = Date.now() + 15 * 60 * 1000;

  function show(series) {
    var link = grid.querySelector('[data-series="' + series.id + '"]');
    var placeholder = link && link.querySelector(".thumb-placeholder");
    if (!placeholder) return;
    if (series.state === "ready" && series.thumbnail) {
      var img = document.createElement("img");
      img.src = series.thumbnail;
      img.alt = grid.getAttribute("data-alt");
      img.width = 128;
      img.height = 128;
      placeholder.replaceWith(img);
    } else if (series.state === "unavailable") {
      placeholder.textContent = grid.getAttribute("data-unavailable");
      placeholder.classList.add("thumb-unavailable");
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        data.series.forEach(show);
        if (data.pending && Date.now() < deadline) {
          delay = Math.min(delay * 1.5, 15000);
          window.setTimeout(poll, delay);
        }
      })
      .catch(function () { /* the placeholders stay; a reload shows the previews */ });
  }
  window.setTimeout(poll, delay);
})();
