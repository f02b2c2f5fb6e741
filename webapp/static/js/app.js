// Small progressive enhancements; every form works without this file.
(function () {
  "use strict";

  // One polite live region (#live in base.html) for step changes, errors and the SMS code.
  // Emptied first, so the same message said twice (the same error again) is announced again.
  var pending = null;
  function announce(text) {
    var live = document.getElementById("live");
    text = (text || "").replace(/\s+/g, " ").trim();
    if (!live || !text) return;
    live.textContent = "";
    clearTimeout(pending);
    pending = setTimeout(function () { live.textContent = text; }, 100);
  }

  // A status message that has just been swapped in: a live region is announced when its content changes,
  // not when it appears, so its text is put back once the region is in place. Not copied into #live: the
  // words stay in one element on the page.
  function announceStatus(region) {
    var text = region.textContent;
    setTimeout(function () { region.replaceChildren(document.createTextNode(text)); }, 100);
  }

  // When a wait ends, in Beijing time as the server's messages say it: 08:46, or 2026-12-06 08:46 on
  // another day (the one date format of every screen).
  var BEIJING = "Asia/Shanghai";
  var dayOf = new Intl.DateTimeFormat("en-CA", { timeZone: BEIJING, year: "numeric", month: "2-digit", day: "2-digit" });
  var timeOf = new Intl.DateTimeFormat("en-GB", { timeZone: BEIJING, hour: "2-digit", minute: "2-digit", hour12: false });
  function clockTime(ms) {
    var when = new Date(ms);
    var day = dayOf.format(when);
    return (day === dayOf.format(new Date()) ? "" : day + " ") + timeOf.format(when);
  }

  // 获取验证码 countdown: runs to the server's next-allowed time (data-retry-at, ms since epoch); a wait
  // over a minute (the day's or the hour's quota) shows the time it ends instead of thousands of seconds.
  // The button is not a live region (its label changes every second): when it has just been swapped in,
  // the field's notice (验证码已发送至…, a status message) is announced; the end of the countdown once.
  function startCountdowns(root, fresh) {
    var buttons = root.matches && root.matches("[data-retry-at]") ? [root] : [];
    buttons = buttons.concat(Array.prototype.slice.call(root.querySelectorAll("[data-retry-at]")));
    buttons.forEach(function (button) {
      if (button.dataset.counting) return;
      button.dataset.counting = "1";
      var until = Number(button.dataset.retryAt);
      var field = button.closest(".field");
      var notice = field && field.querySelector(".field__hint[role='status']");
      var started = false;
      function tick() {
        var seconds = Math.ceil((until - Date.now()) / 1000);
        if (seconds <= 0) {
          button.disabled = false;
          button.textContent = button.dataset.label;
          delete button.dataset.counting;
          if (started) announce(button.dataset.label);
          return;
        }
        button.disabled = true;
        button.textContent =
          seconds > 60
            ? button.dataset.waitUntilLabel.replace("{time}", clockTime(until))
            : button.dataset.waitLabel.replace("{seconds}", seconds);
        if (!started && fresh && notice) announceStatus(notice);
        started = true;
        setTimeout(tick, 1000);
      }
      tick();
    });
  }

  // An error paragraph swapped in on its own (the inline 身份证号 check): its field's input follows it.
  function syncInvalid(message) {
    document.querySelectorAll("[aria-describedby~='" + message.id + "']").forEach(function (input) {
      if (message.hidden) input.removeAttribute("aria-invalid");
      else input.setAttribute("aria-invalid", "true");
    });
  }

  // Focus is moved after a swap only when the swap took it (the pressed button is gone, or htmx put it back
  // on the field of the same id in the new content): someone who has already gone on to another field
  // keeps typing there.
  function focusIsFree(swapped) {
    var active = document.activeElement;
    return !active || active === document.body || !active.isConnected || swapped.contains(active);
  }

  // After a swap, move focus to the first error, else to the new step's heading, and announce it.
  function focusAfterSwap(target) {
    var error = target.querySelector("[aria-invalid='true']");
    var heading = target.querySelector("#step-title");
    if (error) {
      error.focus();
      var message = target.querySelector(".field__error:not([hidden]), .form-error");
      if (message) announce(message.textContent);
    } else if (heading) {
      heading.focus();
      announce(heading.textContent);
    }
  }

  // An error under a field goes as soon as the person changes that field (the server judges it again
  // on the next submit); the other fields' errors stay.
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[aria-invalid='true']")) return;
    var field = input.closest(".field, .choices"); // a text field, or a group of radio buttons
    var message = field && field.querySelector(".field__error");
    (field ? field.querySelectorAll("[aria-invalid='true']") : [input]).forEach(function (each) {
      each.removeAttribute("aria-invalid");
    });
    if (field) field.classList.remove("field--invalid", "choices--invalid");
    if (message) message.hidden = true;
  });

  // Enter in a field submits the form's main button, not 获取验证码 (the first submit button in the form,
  // which browsers would otherwise pick for implicit submission).
  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || field.tagName !== "INPUT" || !field.form) return;
    var main = field.form.querySelector("button[type=submit]:not(.sms-button)");
    if (!main || !field.form.querySelector(".sms-button")) return;
    event.preventDefault();
    field.form.requestSubmit(main);
  });

  // While a submit is answered: its form is aria-busy, its buttons are disabled (a double tap sends one
  // request) and the pressed button shows a spinner. An inline check (the 身份证号 on leaving the field)
  // is not a submit and blocks nothing.
  function submitOf(detail) {
    var elt = detail.elt;
    var trigger = detail.requestConfig && detail.requestConfig.triggeringEvent;
    if (elt.tagName === "FORM" && trigger && trigger.type === "submit") return { form: elt, button: trigger.submitter };
    if (elt.tagName === "BUTTON") return { form: elt.form, button: elt };
    return null;
  }

  function setBusy(form, button, busy) {
    if (!form) return;
    if (busy) form.setAttribute("aria-busy", "true");
    else form.removeAttribute("aria-busy");
    form.querySelectorAll("button").forEach(function (each) {
      if (busy) {
        each.dataset.idle = each.disabled ? "disabled" : "";
        each.disabled = true;
      } else if ("idle" in each.dataset) {
        // 获取验证码 follows its countdown, which may have ended meanwhile; the others their own state.
        each.disabled = "retryAt" in each.dataset ? Boolean(each.dataset.counting) : each.dataset.idle === "disabled";
        delete each.dataset.idle;
      }
    });
    if (button) button.classList.toggle("is-busy", busy);
  }

  // The request's form, kept from its start: the button that sent it may be swapped out by the answer
  // (获取验证码 is), and a detached button has no form any more.
  var busyByRequest = new WeakMap();
  document.addEventListener("htmx:beforeRequest", function (event) {
    var submit = submitOf(event.detail);
    if (!submit || !submit.form) return;
    if (submit.form.getAttribute("aria-busy") === "true") {
      event.preventDefault(); // the second tap of a double tap
      return;
    }
    busyByRequest.set(event.detail.xhr, submit);
    setBusy(submit.form, submit.button, true);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var submit = busyByRequest.get(event.detail.xhr);
    if (submit) setBusy(submit.form, submit.button, false); // a form swapped out meanwhile is simply gone
  });
  // A form without htmx (a full-page post): busy until the next page; the pressed button's value is sent
  // first, so the buttons are disabled a moment later.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || form.hasAttribute("hx-post")) return;
    if (form.getAttribute("aria-busy") === "true") {
      event.preventDefault();
      return;
    }
    setTimeout(function () { setBusy(form, event.submitter, true); }, 0);
  });
  window.addEventListener("pageshow", function () { // back to a page kept in the browser's cache
    document.querySelectorAll("form[aria-busy='true']").forEach(function (form) { setBusy(form, null, false); });
    document.querySelectorAll(".is-busy").forEach(function (button) { button.classList.remove("is-busy"); });
  });

  // A refusal shown above the form (a 403, 429 or 503 answered to htmx) goes when the next request starts.
  document.addEventListener("htmx:beforeRequest", function () {
    var alert = document.getElementById("page-alert");
    if (alert && !alert.hidden) {
      alert.hidden = true;
      alert.textContent = "";
    }
  });

  // A refusal redraws the form without its passwords (the server never sends one back). Those the refusal
  // is not about are put back from the page, so a wrong code does not mean typing both passwords again;
  // only into the same form (same action), never into the next step's.
  var keptPasswords = {};
  function passwordKey(input) {
    return (input.form ? input.form.getAttribute("action") : "") + "|" + input.name;
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    keptPasswords = {};
    var target = event.detail.target;
    if (!target || !target.querySelectorAll) return;
    target.querySelectorAll("input[type=password]").forEach(function (input) {
      if (input.value) keptPasswords[passwordKey(input)] = input.value;
    });
  });
  function restorePasswords(root) {
    root.querySelectorAll("input[type=password]").forEach(function (input) {
      var kept = keptPasswords[passwordKey(input)];
      if (kept && !input.value && input.getAttribute("aria-invalid") !== "true") input.value = kept;
    });
    keptPasswords = {};
  }

  // A link with data-dialog opens that dialog in place when the page has one (用户协议 over the 注册 form,
  // so nothing typed is lost); elsewhere it is an ordinary link to the page. A tap beside the dialog
  // closes it, as its 返回 button does.
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.matches && target.matches("dialog.sheet[open]")) {
      var box = target.getBoundingClientRect();
      var outside = event.clientX < box.left || event.clientX > box.right || event.clientY < box.top || event.clientY > box.bottom;
      if (outside) target.close();
      return;
    }
    var link = target.closest && target.closest("a[data-dialog]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var dialog = document.getElementById(link.dataset.dialog);
    if (!dialog || typeof dialog.showModal !== "function") return;
    event.preventDefault();
    dialog.showModal();
  });

  // A date field is text in the one format every screen shows (2019-02-06). Where the browser has a date
  // picker, a button beside the field opens it, and the date chosen is written in that format.
  function addDatePickers(root) {
    root.querySelectorAll("input[data-date-picker]").forEach(function (input) {
      if (input.dataset.pickerReady) return;
      var native = document.createElement("input");
      native.type = "date";
      if (native.type !== "date" || typeof native.showPicker !== "function") return;
      input.dataset.pickerReady = "1";
      native.className = "date-picker__native";
      native.tabIndex = -1;
      native.setAttribute("aria-hidden", "true");
      native.lang = document.documentElement.lang;
      if (input.dataset.min) native.min = input.dataset.min;
      if (input.dataset.max) native.max = input.dataset.max;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "date-picker";
      button.setAttribute("aria-label", input.dataset.datePicker);
      button.title = input.dataset.datePicker;
      button.addEventListener("click", function () {
        var typed = input.value.trim();
        native.value = /^\d{4}-\d{2}-\d{2}$/.test(typed) ? typed : "";
        try {
          native.showPicker();
        } catch (error) {
          input.focus(); // no picker here after all: the field takes the date as typed
        }
      });
      native.addEventListener("change", function (event) {
        event.stopPropagation(); // the field's own change, below, is the one that counts
        if (!native.value) return;
        input.value = native.value;
        input.dispatchEvent(new Event("input", { bubbles: true }));
        input.dispatchEvent(new Event("change", { bubbles: true }));
        input.focus();
      });
      input.after(button, native);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    startCountdowns(document, false);
    addDatePickers(document);
  });
  // htmx:load fires on each piece of content htmx puts into the page (and once for <body> at start).
  document.addEventListener("htmx:load", function (event) {
    var element = event.detail.elt;
    if (element === document.body) return;
    if (element.matches(".field__error[id]")) syncInvalid(element);
    restorePasswords(element);
    var invalid = element.querySelector("[aria-invalid='true']");
    if (focusIsFree(element)) {
      if (element.matches(".step") || invalid) focusAfterSwap(element);
      else if (element.id === "sms-group") element.querySelector("input[name=code]").focus(); // what to type next
    }
    startCountdowns(element, !invalid); // an error, when there is one, is what is announced
    addDatePickers(element);
  });
})();
