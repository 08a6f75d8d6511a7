// Imaging viewer: scroll the images of a series with the keyboard, the buttons or the wheel,
// and switch window presets, without reloading the page. Without this script the buttons and
// presets are plain links (?n=…&w=…) that the server answers. No inline code (CSP).
(function () {
  "use strict";
  var viewer = document.querySelector("[data-viewer]");
  var dataNode = document.getElementById("viewer-data");
  if (!viewer || !dataNode) return;
  var data = JSON.parse(dataNode.textContent);
  var image = viewer.querySelector("[data-viewer-image]");
  var caption = viewer.querySelector("[data-viewer-position]");
  var download = viewer.querySelector("[data-viewer-download]");
  var number = viewer.querySelector("[data-viewer-instance-number]");
  var keys = viewer.querySelector("[data-viewer-keys]");
  var params = new URLSearchParams(window.location.search);

  // Every (instance, frame) pair, in order.
  var positions = [];
  data.images.forEach(function (img, i) {
    for (var f = 0; f < img[1]; f += 1) positions.push([i, f]);
  });
  var total = positions.length;
  var index = Math.min(Math.max(parseInt(params.get("n") || "0", 10) || 0, 0), total - 1);
  var preset = parseInt(params.get("w") || "0", 10) || 0;
  if (preset < 0 || preset >= data.presets.length) preset = 0;
  if (keys) keys.hidden = false;

  function urlFor(pos) {
    var img = data.images[positions[pos][0]];
    var p = data.presets[preset];
    var url = data.render.replace(data.zero, img[0]) + "?frame=" + positions[pos][1] + "&size=" + data.size;
    if (p.center !== null && p.center !== undefined) url += "&wc=" + p.center + "&ww=" + p.width;
    if (data.overlays === false) url += "&ov=0";
    return url;
  }

  // One image request at a time: keys pressed quickly only ask for the last image wanted,
  // and the next image in the scrolling direction is rendered ahead (into the server's
  // cache: image responses are no-store) once the shown one has arrived.
  var loading = false;
  var wanted = null;
  var direction = 1;

  function request(url) {
    if (!image || image.getAttribute("src") === url) return;
    if (loading) {
      wanted = url;
      return;
    }
    loading = true;
    wanted = null;
    image.src = url;
  }

  function arrived() {
    loading = false;
    if (wanted !== null) {
      request(wanted);
      return;
    }
    var ahead = index + direction;
    if (ahead >= 0 && ahead < total) new Image().src = urlFor(ahead);
  }

  if (image) {
    image.addEventListener("load", arrived);
    image.addEventListener("error", arrived);
  }

  function show(pos) {
    var next = Math.min(Math.max(pos, 0), total - 1);
    direction = next < index ? -1 : 1;
    index = next;
    var img = data.images[positions[index][0]];
    if (image) {
      request(urlFor(index));
      image.alt = "Image " + (index + 1) + " sur " + total;
    }
    var text = "Image " + (index + 1) + " / " + total;
    if (img[1] > 1) text += " · vue " + (positions[index][1] + 1) + " / " + img[1] + " du fichier";
    caption.textContent = text;
    if (download) download.href = data.download.replace(data.zero, img[0]);
    if (number && img[2] !== null) number.textContent = String(img[2]);
    viewer.querySelectorAll("[data-step]").forEach(function (link) {
      var to = target(link.getAttribute("data-step"));
      link.href = "?n=" + to + "&w=" + preset;
      link.classList.toggle("disabled", to === index);
      if (to === index) link.setAttribute("aria-disabled", "true");
      else link.removeAttribute("aria-disabled");
    });
    viewer.querySelectorAll("[data-preset]").forEach(function (link) {
      var mine = link.getAttribute("data-preset") === String(preset);
      if (mine) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
      link.href = "?n=" + index + "&w=" + link.getAttribute("data-preset");
    });
    window.history.replaceState(null, "", "?n=" + index + "&w=" + preset);
  }

  function target(step) {
    if (step === "first") return 0;
    if (step === "last") return total - 1;
    if (step === "previous") return Math.max(index - 1, 0);
    return Math.min(index + 1, total - 1);
  }

  viewer.addEventListener("click", function (event) {
    var link = event.target.closest("[data-step], [data-preset]");
    if (!link) return;
    event.preventDefault();
    if (link.hasAttribute("data-preset")) {
      preset = parseInt(link.getAttribute("data-preset"), 10) || 0;
      show(index);
    } else {
      show(target(link.getAttribute("data-step")));
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea") return;
    var moves = {ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1, PageDown: 10, PageUp: -10};
    if (event.key in moves) show(index + moves[event.key]);
    else if (event.key === "Home") show(0);
    else if (event.key === "End") show(total - 1);
    else return;
    event.preventDefault();
  });
  if (image) {
    image.addEventListener("wheel", function (event) {
      event.preventDefault();
      show(index + (event.deltaY > 0 ? 1 : -1));
    }, {passive: false});
  }
  show(index);
})();
