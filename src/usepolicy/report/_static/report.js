// Filters the records table in place: by decision, rule, organisation and purpose, and
// by any text in a row. Everything is in the page; nothing is fetched.
(function () {
  "use strict";
  var table = document.getElementById("records");
  var controls = document.getElementById("controls");
  if (!table || !controls) {
    return;
  }
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var selects = Array.prototype.slice.call(controls.querySelectorAll("select[data-filter]"));
  var search = document.getElementById("search");
  var shown = document.getElementById("shown");
  var total = 0;
  rows.forEach(function (row) { total += Number(row.dataset.count || 1); });

  function apply() {
    var text = search.value.trim().toLowerCase();
    var visibleRows = 0;
    var records = 0;
    rows.forEach(function (row) {
      var keep = selects.every(function (select) {
        return select.value === "" || row.dataset[select.dataset.filter] === select.value;
      });
      if (keep && text) {
        keep = row.textContent.toLowerCase().indexOf(text) >= 0;
      }
      row.hidden = !keep;
      if (keep) {
        visibleRows += 1;
        records += Number(row.dataset.count || 1);
      }
    });
    shown.textContent = records.toLocaleString("en") + " of " + total.toLocaleString("en") +
      " records shown (" + visibleRows.toLocaleString("en") + " rows)";
  }

  selects.forEach(function (select) { select.addEventListener("change", apply); });
  search.addEventListener("input", apply);
  document.getElementById("reset").addEventListener("click", function () {
    selects.forEach(function (select) { select.value = ""; });
    search.value = "";
    apply();
  });
  controls.hidden = false;
  apply();
}());
