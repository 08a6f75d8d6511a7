// On a phone, tables are shown as stacked cards (static/css/portal.css): each cell is
// introduced by its column's header, copied here into data-label (cells that already have
// one keep it). Without this script the cards still fit, without the headers.
(function () {
  "use strict";
  document.querySelectorAll("main table").forEach(function (table) {
    var headers = table.querySelectorAll("thead th");
    if (!headers.length) {
      return;
    }
    var labels = Array.prototype.map.call(headers, function (th) {
      return th.textContent.trim();
    });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      var column = 0;
      Array.prototype.forEach.call(row.children, function (cell) {
        var label = labels[column];
        if (label && !cell.hasAttribute("data-label")) {
          cell.setAttribute("data-label", label);
        }
        column += cell.colSpan || 1;
      });
    });
  });
})();
