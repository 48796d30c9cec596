/* Cohort report interactions (vanilla JS, optional: every page reads fully without it).
   - a filter box narrows the patient table and the swimmer lanes to rows whose text matches;
   - clicking a table header sorts that table by the column.
   SVG hover titles are native (<title>) and need no script. */
(function () {
  "use strict";
  function norm(s) { return (s || "").toLowerCase(); }
  function applyFilter(q) {
    q = norm(q).trim();
    var shown = 0, total = 0;
    document.querySelectorAll("[data-search]").forEach(function (el) {
      var hit = !q || norm(el.getAttribute("data-search")).indexOf(q) !== -1;
      el.classList.toggle("hidden", !hit);
      if (el.tagName === "TR") { total += 1; if (hit) { shown += 1; } }
    });
    var out = document.getElementById("filter-count");
    if (out) { out.textContent = q ? shown + " of " + total + " patients match" : ""; }
  }
  function sortable(table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, idx) {
      th.style.cursor = "pointer";
      th.title = "click to sort";
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var asc = th.getAttribute("data-dir") !== "asc";
        heads.forEach(function (h) { h.removeAttribute("data-dir"); });
        th.setAttribute("data-dir", asc ? "asc" : "desc");
        rows.sort(function (a, b) {
          var x = a.cells[idx] ? a.cells[idx].textContent.trim() : "";
          var y = b.cells[idx] ? b.cells[idx].textContent.trim() : "";
          var nx = parseFloat(x), ny = parseFloat(y);
          var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("filter-box");
    if (box) {
      box.style.display = "block";
      var input = box.querySelector("input");
      input.addEventListener("input", function () { applyFilter(input.value); });
    }
    document.querySelectorAll("table.sortable").forEach(sortable);
    document.body.setAttribute("data-ready", "1");
  });
})();
