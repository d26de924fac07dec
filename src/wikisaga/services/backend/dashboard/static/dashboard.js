// wikisaga dashboard: the only script of our own. No inline script runs anywhere
// (Content-Security-Policy: script-src 'self'); this file follows a running job and
// draws Mermaid diagrams with the vendored Mermaid, nothing else.
(function () {
  "use strict";

  var FINISHED = { succeeded: true, failed: true };

  function poll(box) {
    var url = box.getAttribute("data-poll");
    if (!url) return;
    var timer = window.setInterval(function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (answer) {
          if (!answer.ok) throw new Error("HTTP " + answer.status);
          return answer.text();
        })
        .then(function (html) {
          // The fragment is rendered by the server with every value escaped.
          box.innerHTML = html;
          var status = box.querySelector("[data-status]");
          if (status && FINISHED[status.getAttribute("data-status")]) {
            window.clearInterval(timer);
            box.removeAttribute("data-poll");
          }
        })
        .catch(function () { /* keep the last view; try again on the next tick */ });
    }, 700);
  }

  function diagrams() {
    if (!window.mermaid || !document.querySelector("pre.mermaid")) return;
    window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
    window.mermaid.run({ querySelector: "pre.mermaid" });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll("[data-poll]");
    for (var i = 0; i < boxes.length; i++) poll(boxes[i]);
    diagrams();
  });
})();
