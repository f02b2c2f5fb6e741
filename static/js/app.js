// Small progressive enhancements; every form works without this file.
(function () {
  "use strict";

  // 获取验证码 countdown: runs to the server's next-allowed time (data-retry-at, ms since epoch).
  function startCountdowns(root) {
    root.querySelectorAll("[data-retry-at]").forEach(function (button) {
      if (button.dataset.counting) return;
      button.dataset.counting = "1";
      var until = Number(button.dataset.retryAt);
      function tick() {
        var seconds = Math.ceil((until - Date.now()) / 1000);
        if (seconds <= 0) {
          button.disabled = false;
          button.textContent = button.dataset.label;
          delete button.dataset.counting;
          return;
        }
        button.disabled = true;
        button.textContent = button.dataset.waitLabel.replace("{seconds}", seconds);
        setTimeout(tick, 1000);
      }
      tick();
    });
  }

  // After a swap, move focus to the first error, else to the new step's heading, and announce it.
  function focusAfterSwap(target) {
    var error = target.querySelector("[aria-invalid='true']");
    var heading = target.querySelector("#step-title");
    var live = document.getElementById("live");
    if (error) {
      error.focus();
      var message = target.querySelector(".field__error:not([hidden])");
      if (live && message) live.textContent = message.textContent;
    } else if (heading) {
      heading.focus();
      if (live) live.textContent = heading.textContent;
    }
  }

  document.addEventListener("DOMContentLoaded", function () { startCountdowns(document); });
  // htmx:load fires on each piece of content htmx puts into the page (and once for <body> at start).
  document.addEventListener("htmx:load", function (event) {
    var element = event.detail.elt;
    if (element === document.body) return;
    startCountdowns(element);
    if (element.matches(".step")) focusAfterSwap(element);
    else if (element.querySelector("[aria-invalid='true']")) focusAfterSwap(element);
  });
})();
