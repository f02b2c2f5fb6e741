// The face scan component: front camera in a circle, a two-action challenge from the server, one burst
// of JPEG frames posted with it. Nothing is uploaded but live camera frames; there is no file input.
(function () {
  "use strict";

  var CAPTURE_MS = 2800; // both prompts, ≈1.4 s each
  var FRAME_EVERY_MS = 100; // 10 fps → 28 frames
  var WIDTH = 320;
  var HEIGHT = 240;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["x-csrftoken"];
    } catch (error) {
      return "";
    }
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "x-csrftoken": csrfToken(), accept: "application/json" },
    }).then(function (response) {
      return response.json();
    });
  }

  function grab(video, canvas) {
    var context = canvas.getContext("2d");
    context.drawImage(video, 0, 0, WIDTH, HEIGHT);
    return new Promise(function (resolve) {
      canvas.toBlob(resolve, "image/jpeg", 0.85);
    });
  }

  function setup(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    var start = root.querySelector(".face-scan__start");
    var video = root.querySelector(".face-scan__video");
    var prompt = root.querySelector(".face-scan__prompt");
    var status = root.querySelector(".face-scan__status");
    var bar = root.querySelector(".face-scan__progress");
    var consent = root.querySelector("[data-face-consent]");
    var canvas = document.createElement("canvas");
    canvas.width = WIDTH;
    canvas.height = HEIGHT;
    var stream = null;

    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.fetch) {
      status.textContent = root.dataset.msgNoCamera;
      root.classList.add("face-scan--unavailable");
      return;
    }
    start.hidden = false;
    status.textContent = root.dataset.msgReady;

    function progress(value) {
      bar.setAttribute("aria-valuenow", String(Math.round(value)));
      bar.firstElementChild.style.width = value + "%";
    }

    function stop() {
      if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
      video.srcObject = null;
    }

    function finish(result) {
      stop();
      prompt.textContent = "";
      status.textContent = result.message || "";
      root.classList.toggle("face-scan--passed", !!result.ok);
      root.classList.toggle("face-scan--failed", !result.ok);
      if (result.ok && result.redirect) {
        setTimeout(function () { window.location.assign(result.redirect); }, 600);
      } else {
        start.disabled = false;
        start.hidden = false;
      }
    }

    start.addEventListener("click", function () {
      if (consent && !consent.checked) {
        status.textContent = consent.closest("label").textContent.trim();
        consent.focus();
        return;
      }
      start.disabled = true;
      root.classList.remove("face-scan--failed", "face-scan--passed");
      var challenge;
      navigator.mediaDevices
        .getUserMedia({ video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } }, audio: false })
        .catch(function () {
          throw { ok: false, message: root.dataset.msgNoCamera }; // no camera, permission denied, or busy
        })
        .then(function (media) {
          stream = media;
          video.srcObject = media;
          return video.play();
        })
        .then(function () {
          var body = new URLSearchParams({ purpose: root.dataset.purpose, next: root.dataset.next || "" });
          if (consent) body.set("consent", "yes");
          return post("/face/scan/start", body);
        })
        .then(function (answer) {
          if (!answer.ok) throw answer;
          challenge = answer;
          start.hidden = true;
          var frames = [];
          var began = performance.now();
          return new Promise(function (resolve) {
            var timer = setInterval(function () {
              var elapsed = performance.now() - began;
              prompt.textContent = challenge.prompts[elapsed < CAPTURE_MS / 2 ? 0 : 1];
              progress(Math.min(100, (elapsed / CAPTURE_MS) * 100));
              frames.push(grab(video, canvas));
              if (elapsed >= CAPTURE_MS || frames.length >= 30) {
                clearInterval(timer);
                resolve(Promise.all(frames));
              }
            }, FRAME_EVERY_MS);
          });
        })
        .then(function (blobs) {
          stop();
          prompt.textContent = "";
          status.textContent = root.dataset.msgUploading;
          var body = new FormData();
          blobs.forEach(function (blob, index) { body.append("frames", blob, "frame" + index + ".jpg"); });
          return post("/face/scan/check", body);
        })
        .then(finish)
        .catch(function (problem) {
          // A refusal from the server or the camera carries its message; anything else is the network.
          var message = problem && "ok" in problem ? problem.message : root.dataset.msgFailed;
          finish({ ok: false, message: message });
        });
    });
  }

  function init(scope) {
    (scope.matches && scope.matches("[data-face-scan]") ? [scope] : []).concat(
      Array.prototype.slice.call(scope.querySelectorAll("[data-face-scan]"))
    ).forEach(setup);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
})();
