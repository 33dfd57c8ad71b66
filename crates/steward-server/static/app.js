// Steward console: small progressive enhancements; every page works without this script.
(function () {
  'use strict';
  // Instant filtering of a table by a search box: <input data-filter="#table-id">.
  document.querySelectorAll('input[data-filter]').forEach(function (input) {
    var table = document.querySelector(input.getAttribute('data-filter'));
    if (!table) return;
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    input.addEventListener('input', function () {
      var needle = input.value.trim().toLowerCase();
      rows.forEach(function (row) {
        row.hidden = needle !== '' && row.cells[0].textContent.toLowerCase().indexOf(needle) === -1;
      });
    });
  });
  // After queueing a job, refresh the page once the agent has had time to answer.
  if (new URLSearchParams(location.search).get('queued') === '1') {
    setTimeout(function () {
      var url = new URL(location.href);
      url.searchParams.delete('queued');
      location.replace(url.pathname + url.search + '#jobs');
    }, 3000);
  }
})();
