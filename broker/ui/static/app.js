// larder dashboard: the live view. #live names the app's change feed
// (server-sent events) and a fragment URL; on every change the fragment is
// read again and each of its parts ([data-part]) replaces the page's part of
// the same name. Nothing runs on a timer: the page changes when the broker
// says something changed.
(function () {
  'use strict';
  var live = document.getElementById('live');
  if (!live || !window.EventSource || !window.fetch) {
    return;
  }
  var busy = false;
  var again = false;
  var leaving = false; // a form was sent: its answer is the next page

  // swap puts the fragment's parts in place of the page's. The fragment is
  // the server's own html/template output; parsed, its scripts (it has
  // none) would not run.
  function swap(html) {
    var doc = new DOMParser().parseFromString(html, 'text/html');
    doc.querySelectorAll('[data-part]').forEach(function (part) {
      var old = document.querySelector('[data-part="' + part.dataset.part + '"]');
      if (old) {
        old.replaceWith(document.adoptNode(part));
      }
    });
  }

  function refresh() {
    if (leaving) {
      return;
    }
    if (busy) {
      again = true; // one more read once this one is in
      return;
    }
    busy = true;
    fetch(live.dataset.live, {
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'X-Requested-With': 'larder-live' }
    }).then(function (res) {
      if (leaving) {
        return null;
      }
      if (res.status === 401) {
        window.location.assign('/ui/login');
        return null;
      }
      if (res.status === 404 && live.dataset.gone) {
        window.location.assign(live.dataset.gone);
        return null;
      }
      return res.ok ? res.text() : null;
    }).then(function (html) {
      if (html !== null && !leaving) {
        swap(html);
      }
    }).catch(function () {
      // A failed read is retried on the next change.
    }).then(function () {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    });
  }

  var feed = new EventSource(live.dataset.feed);
  feed.addEventListener('open', function () {
    document.body.classList.add('is-live');
  });
  feed.addEventListener('error', function () {
    // EventSource reconnects by itself, resuming from the last event id.
    document.body.classList.remove('is-live');
  });
  feed.addEventListener('change', refresh);
  feed.addEventListener('reset', refresh);
  document.addEventListener('submit', function () {
    // The page is being replaced by the form's answer: no more swaps or
    // redirects of the live view's own may race it.
    leaving = true;
    feed.close();
  });
  window.addEventListener('pagehide', function () {
    feed.close();
  });
}());
