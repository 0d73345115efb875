// Refreshes the overview's live part every 5 seconds while the tab is visible: fetches the
// fragment named by data-refresh and swaps it in. A signed-out session reloads the page,
// which then shows the sign-in form.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !live.dataset.refresh) {
    return;
  }
  var url = live.dataset.refresh;
  function refresh() {
    if (document.hidden) {
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.redirected || response.status === 401) {
          window.location.reload();
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null && html !== undefined) {
          live.innerHTML = html;
          live.dataset.refreshed = String(Date.now());
        }
      })
      .catch(function () {});
  }
  window.setInterval(refresh, 5000);
  document.addEventListener("visibilitychange", refresh);
})();
