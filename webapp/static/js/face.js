// The face scan component: a server-paced stream. After consent the page asks for a scan, opens its
// WebSocket, and from then on the server says what is due: each instruction and each screen colour
// arrives when it is to be shown. The page shows it, says when it did, and sends camera frames as it
// captures them (480×360 JPEG, ≈12 fps) with their capture time. The server's last message is its one
// decision; a passed scan is then finished over HTTP, which sets the cookies of the purpose.
// Nothing is uploaded but live camera frames; there is no file input.
(function () {
  "use strict";

  var GET_READY_SECONDS = 3;

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

  function socketUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  function setup(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    var start = root.querySelector(".face-scan__start");
    var video = root.querySelector(".face-scan__video");
    var prompt = root.querySelector(".face-scan__prompt");
    var status = root.querySelector(".face-scan__status");
    var bar = root.querySelector(".face-scan__progress");
    var figures = root.querySelector(".face-scan__figures");
    var consent = root.querySelector("[data-face-consent]");
    var canvas = document.createElement("canvas");
    var stream = null;
    var socket = null;

    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.fetch || !window.WebSocket) {
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

    function light(colour) {
      root.dataset.light = colour || "";
      root.style.setProperty("--face-light", colour || "transparent");
    }

    function stop() {
      if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
      video.srcObject = null;
      root.classList.remove("face-scan--live", "face-scan--near");
      root.dataset.step = "";
      light("");
    }

    function finish(result) {
      stop();
      if (socket) { socket.onclose = null; socket.close(); socket = null; }
      prompt.textContent = "";
      status.textContent = result.message || "";
      if (figures && result.figures) {
        figures.hidden = false;
        figures.textContent = JSON.stringify(result.figures, null, 2);
      }
      root.classList.toggle("face-scan--passed", !!result.ok);
      root.classList.toggle("face-scan--failed", !result.ok);
      if (result.ok && result.redirect) {
        setTimeout(function () { window.location.assign(result.redirect); }, 600);
      } else {
        start.disabled = false;
        start.hidden = false;
        start.removeAttribute("aria-busy");
      }
    }

    function capture(plan, began) {
      // Frames at the plan's rate until the server says "end"; each with its capture time.
      canvas.width = plan.width;
      canvas.height = plan.height;
      var context = canvas.getContext("2d");
      var every = 1000 / plan.fps;
      var timer = setInterval(function () {
        if (!socket || socket.readyState !== WebSocket.OPEN) return clearInterval(timer);
        var at = performance.now() - began;
        progress(Math.min(100, (at / plan.duration_ms) * 100));
        context.drawImage(video, 0, 0, plan.width, plan.height);
        canvas.toBlob(function (blob) {
          if (!blob || !socket || socket.readyState !== WebSocket.OPEN) return;
          blob.arrayBuffer().then(function (jpeg) {
            var frame = new Uint8Array(8 + jpeg.byteLength);
            new DataView(frame.buffer).setFloat64(0, at, true);
            frame.set(new Uint8Array(jpeg), 8);
            if (socket && socket.readyState === WebSocket.OPEN) socket.send(frame.buffer);
          });
        }, "image/jpeg", 0.8);
      }, every);
      return timer;
    }

    function run(path) {
      return new Promise(function (resolve) {
        var timer = null;
        var began = 0;
        socket = new WebSocket(socketUrl(path));
        socket.binaryType = "arraybuffer";
        socket.onmessage = function (event) {
          var message = JSON.parse(event.data);
          if (message.type === "plan") {
            began = performance.now();
            root.classList.add("face-scan--live");
            timer = capture(message, began);
          } else if (message.type === "step") {
            prompt.textContent = message.prompt;
            root.dataset.step = message.step;
            root.classList.toggle("face-scan--near", message.step !== "center");
            shown(message.cue);
          } else if (message.type === "light") {
            light(message.colour);
            shown(message.cue);
          } else if (message.type === "end") {
            clearInterval(timer);
            stop();
            prompt.textContent = "";
            status.textContent = root.dataset.msgUploading;
          } else if (message.type === "result") {
            clearInterval(timer);
            resolve(message);
          }
        };
        socket.onclose = function () {
          clearInterval(timer);
          resolve({ ok: false, message: root.dataset.msgFailed });
        };
      });
    }

    // A moment to get ready before the first instruction: the preview shows, the prompt counts down.
    function getReady(seconds) {
      return new Promise(function (resolve) {
        (function tick(left) {
          if (left <= 0) {
            prompt.textContent = "";
            return resolve();
          }
          prompt.textContent = root.dataset.msgGetReady.replace("{n}", left);
          setTimeout(function () { tick(left - 1); }, 1000);
        })(seconds);
      });
    }

    function shown(cue) {
      // Painted on the next frame: tell the server, which measures the round trip from it.
      requestAnimationFrame(function () {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ shown: cue }));
      });
    }

    start.addEventListener("click", function () {
      if (consent && !consent.checked) {
        status.textContent = root.dataset.msgConsent;
        consent.focus();
        return;
      }
      start.disabled = true;
      start.setAttribute("aria-busy", "true");
      root.classList.remove("face-scan--failed", "face-scan--passed");
      if (figures) figures.hidden = true;
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
        .then(function () { return getReady(GET_READY_SECONDS); })
        .then(function () {
          var body = new URLSearchParams({ purpose: root.dataset.purpose, next: root.dataset.next || "" });
          if (consent) body.set("consent", "yes");
          return post("/face/scan/start", body);
        })
        .then(function (answer) {
          if (!answer.ok) throw answer;
          start.hidden = true;
          return run(answer.stream);
        })
        .then(function (result) {
          if (!result.ok || !result.finish) return result; // a refusal, or (dev) a calibration scan
          status.textContent = result.message;
          return post(result.finish, new URLSearchParams()).then(function (done) {
            done.figures = result.figures;
            return done;
          });
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
