// Steward console: small progressive enhancements. Every page works without this script.
(function () {
  'use strict';

  // Instant filtering of the rows on screen: <input data-filter="#table-id"> filters by the
  // first column as you type; Enter still submits the form and searches on the server.
  document.querySelectorAll('input[data-filter]').forEach(function (input) {
    var table = document.querySelector(input.getAttribute('data-filter'));
    if (!table || !table.tBodies[0]) return;
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var section = input.closest('section');
    var none = section && section.querySelector('.filter-empty');
    input.addEventListener('input', function () {
      var needle = input.value.trim().toLowerCase();
      var shown = 0;
      rows.forEach(function (row) {
        var hit = needle === '' || row.cells[0].textContent.toLowerCase().indexOf(needle) !== -1;
        row.hidden = !hit;
        if (hit) shown++;
      });
      if (none) none.hidden = shown > 0;
    });
  });

  // A filter menu applies as soon as something is picked.
  document.querySelectorAll('select[data-autosubmit]').forEach(function (select) {
    select.addEventListener('change', function () {
      if (select.form) select.form.submit();
    });
  });

  // Forms with parts for some choices only (the kind of check, of channel, of schedule):
  // an element with data-show-when="FIELD:VALUE VALUE…" shows while the form's FIELD has one
  // of those values. Without this script every part shows, and the server reads only the
  // parts that apply.
  document.querySelectorAll('form').forEach(function (form) {
    var parts = Array.prototype.slice.call(form.querySelectorAll('[data-show-when]'));
    if (!parts.length) return;
    function update() {
      parts.forEach(function (el) {
        var rule = el.getAttribute('data-show-when');
        var colon = rule.indexOf(':');
        var field = form.elements[rule.slice(0, colon)];
        if (!field) return;
        el.hidden = rule.slice(colon + 1).split(' ').indexOf(field.value) === -1;
      });
    }
    form.addEventListener('change', update);
    update();
  });

  // "/" jumps to the page's first search box, as in most consoles.
  document.addEventListener('keydown', function (e) {
    if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
    var tag = (document.activeElement && document.activeElement.tagName) || '';
    if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA') return;
    var search = document.querySelector('input[type=search]');
    if (search) { e.preventDefault(); search.focus(); search.select(); }
  });

  // The device page's section menu marks the section in view.
  var links = Array.prototype.slice.call(document.querySelectorAll('.section-nav a'));
  if (links.length && 'IntersectionObserver' in window) {
    var byId = {};
    links.forEach(function (a) { byId[a.getAttribute('href').slice(1)] = a; });
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting) return;
        links.forEach(function (a) { a.classList.remove('current'); });
        var link = byId[entry.target.id];
        if (link) link.classList.add('current');
      });
    }, { rootMargin: '-130px 0px -60% 0px' });
    Object.keys(byId).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) observer.observe(el);
    });
  }

  // Charts: the values under the pointer (the hover column's <title>) in the readout line
  // below the chart, so they stay readable while the pointer moves.
  document.querySelectorAll('figure.chart').forEach(function (figure) {
    var readout = figure.querySelector('.chart-readout');
    if (!readout) return;
    var active = null;
    figure.addEventListener('mouseover', function (e) {
      var rect = e.target.closest && e.target.closest('.chart-hover rect');
      if (!rect) return;
      if (active) active.classList.remove('active');
      active = rect;
      rect.classList.add('active');
      var title = rect.querySelector('title');
      readout.textContent = title ? title.textContent : '';
    });
  });

  // After queueing a job, reload once the agent has had time to answer.
  if (new URLSearchParams(location.search).get('queued') === '1') {
    setTimeout(function () {
      var url = new URL(location.href);
      url.searchParams.delete('queued');
      location.replace(url.pathname + url.search + '#jobs');
    }, 3000);
  }
})();
