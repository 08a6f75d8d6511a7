// Imaging upload: drag-and-drop onto the form and a progress bar. Without this script the form
// is a plain multi-file upload. No inline code (CSP).
(function () {
  "use strict";
  var form = document.querySelector("[data-imaging-upload]");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  var input = form.querySelector("input[type=file]");
  var zone = form.querySelector("[data-drop-zone]");
  var hint = form.querySelector("[data-drop-hint]");
  var progress = form.querySelector("[data-upload-progress]");
  var status = form.querySelector("[data-upload-status]");
  var dropped = null;
  if (hint) hint.hidden = false;

  function describe(files) {
    var bytes = 0;
    for (var i = 0; i < files.length; i += 1) bytes += files[i].size;
    var count = ngettext("%(count)s fichier", "%(count)s fichiers", files.length);
    return interpolate(count, {count: files.length}, true) + ", " +
      interpolate(gettext("%(size)s Mio"), {size: (bytes / 1048576).toLocaleString(
        document.documentElement.lang, {minimumFractionDigits: 1, maximumFractionDigits: 1})}, true);
  }

  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("drop-active");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("drop-active"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    if (!event.dataTransfer || !event.dataTransfer.files.length) return;
    dropped = event.dataTransfer.files;
    try { input.files = dropped; dropped = null; } catch (e) { /* old browsers: send them below */ }
    status.textContent = interpolate(gettext("Prêt à envoyer : %(files)s"), {files: describe(dropped || input.files)}, true);
  });
  input.addEventListener("change", function () {
    dropped = null;
    status.textContent = input.files.length ? interpolate(gettext("Prêt à envoyer : %(files)s"), {files: describe(input.files)}, true) : "";
  });

  form.addEventListener("submit", function (event) {
    var data = new FormData(form);
    if (dropped) {
      data.delete("files");
      for (var i = 0; i < dropped.length; i += 1) data.append("files", dropped[i]);
    }
    event.preventDefault();
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    progress.hidden = false;
    form.querySelector("button[type=submit]").disabled = true;
    request.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      progress.value = Math.round((e.loaded / e.total) * 100);
      progress.textContent = progress.value + " %";
      status.textContent = progress.value < 100 ? interpolate(gettext("Envoi… %(percent)s %"), {percent: progress.value}, true) : gettext("Vérification des fichiers…");
    });
    request.addEventListener("load", function () {
      var type = request.getResponseHeader("Content-Type") || "";
      if (type.indexOf("application/json") === 0) {
        window.location.assign(JSON.parse(request.responseText).location);
        return;
      }
      // An error page (refused upload): show it as the server rendered it.
      document.open();
      document.write(request.responseText);
      document.close();
    });
    request.addEventListener("error", function () {
      status.textContent = gettext("L'envoi a échoué (connexion interrompue ou envoi trop volumineux). Rien n'a été conservé.");
      form.querySelector("button[type=submit]").disabled = false;
      progress.hidden = true;
    });
    request.send(data);
  });
})();
