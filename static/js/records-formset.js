// Lab results form: "Ajouter des lignes" adds one empty row in place (without JavaScript the
// same button posts the form back with more rows). No inline handlers: CSP.
(function () {
  const button = document.querySelector("[data-add-row]");
  const template = document.getElementById("observation-empty-row");
  const rows = document.getElementById("observation-rows");
  const total = document.getElementById("id_form-TOTAL_FORMS");
  const max = document.getElementById("id_form-MAX_NUM_FORMS");
  if (!button || !template || !rows || !total) {
    return;
  }
  button.addEventListener("click", (event) => {
    const count = parseInt(total.value, 10);
    if (max && count >= parseInt(max.value, 10)) {
      return; // let the server say the limit
    }
    event.preventDefault();
    const html = template.innerHTML
      .replace(/__prefix__/g, String(count))
      .replace(/__number__/g, String(count + 1));
    rows.insertAdjacentHTML("beforeend", html);
    total.value = String(count + 1);
    const added = rows.lastElementChild;
    const first = added && added.querySelector("select, input");
    if (first) {
      first.focus();
    }
  });
})();
