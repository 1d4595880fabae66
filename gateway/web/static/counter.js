/* The bank counter's new-case form: checks ID numbers, credit codes and amounts as the clerk types (the
   same algorithms as gateway/domain/identifiers.py — the server checks everything again and is the
   authority), shows the upload's progress, and prints the 受理回执. Without this script the form is a
   plain multipart POST and works the same. */
(function () {
  "use strict";

  // GB 11643 (ISO 7064 MOD 11-2)
  var ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var ID_CHECK = "10X98765432";
  // GB 32100: 31 characters, no I, O, Z, S, V
  var CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  var CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

  function normalise(value) {
    return value.replace(/[\s\-_]/g, "").toUpperCase();
  }

  function residentId(value) {
    var n = normalise(value);
    if (!/^[0-9]{17}[0-9X]$/.test(n)) return "id-length";
    var total = 0;
    for (var i = 0; i < 17; i++) total += Number(n.charAt(i)) * ID_WEIGHTS[i];
    return ID_CHECK.charAt(total % 11) === n.charAt(17) ? "" : "id-check";
  }

  function creditCode(value) {
    var n = normalise(value);
    if (n.length !== 18) return "credit-length";
    for (var i = 0; i < 18; i++) if (CREDIT_ALPHABET.indexOf(n.charAt(i)) < 0) return "credit-length";
    var total = 0;
    for (var j = 0; j < 17; j++) total += CREDIT_ALPHABET.indexOf(n.charAt(j)) * CREDIT_WEIGHTS[j];
    return CREDIT_ALPHABET.charAt((31 - (total % 31)) % 31) === n.charAt(17) ? "" : "credit-check";
  }

  function money(value) {
    // as the server's Money: a decimal greater than 0, at most 2 decimals and 16 digits
    var v = value.replace(/[,\s]/g, "");
    if (!/^[0-9]{1,14}(\.[0-9]{1,2})?$/.test(v) || Number(v) <= 0) return "money";
    return "";
  }

  function problem(input) {
    var value = input.value.trim();
    if (!value) return "";
    if (input.dataset.check === "money") return money(value);
    if (input.dataset.check === "id") {
      var party = input.closest("[data-party]");
      var type = party ? party.querySelector("select[name$='.id_type']") : null;
      var kind = type ? type.value : "resident_id";
      if (kind === "resident_id") return residentId(value);
      if (kind === "credit_code") return creditCode(value);
    }
    return "";
  }

  function check(form, input) {
    var out = document.getElementById(input.id + "-check");
    if (!out) return;
    var found = problem(input);
    var message = found ? form.dataset["msg" + found.replace(/(^|-)([a-z])/g, function (_, __, c) { return c.toUpperCase(); })] : "";
    out.textContent = message || "";
    out.hidden = !message;
    input.setAttribute("aria-invalid", message ? "true" : "false");
    var field = input.closest(".field");
    if (field) field.classList.toggle("has-warning", !!message);
  }

  function toggles(form) {
    var boxes = form.querySelectorAll("input[data-toggles]");
    Array.prototype.forEach.call(boxes, function (box) {
      var target = document.getElementById(box.dataset.toggles);
      var update = function () {
        if (target) target.hidden = !box.checked;
        var rows = form.querySelectorAll("[data-needed-with='" + box.name + "']");
        Array.prototype.forEach.call(rows, function (row) { row.hidden = !box.checked; });
      };
      box.addEventListener("change", update);
      update();
    });
  }

  function upload(form, event) {
    if (!window.FormData || !window.XMLHttpRequest) return; // the plain POST does the same
    event.preventDefault();
    var data = new FormData(form);
    var xhr = new XMLHttpRequest();
    var box = document.getElementById("upload-progress");
    var bar = document.getElementById("upload-bar");
    var percent = document.getElementById("upload-percent");
    var button = form.querySelector("button[type=submit]");
    if (box) box.hidden = false;
    if (button) button.disabled = true;
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var p = Math.round((e.loaded / e.total) * 100);
      if (bar) bar.value = p;
      if (percent) percent.textContent = p + "%";
    });
    xhr.addEventListener("load", function () {
      var landed = xhr.responseURL || "";
      if (xhr.status < 300 && landed.indexOf("/receipt") > 0) {
        window.location.assign(landed); // the 受理回执
        return;
      }
      // Refused: show the server's page, but keep the files the clerk chose (a page cannot refill them).
      var next = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var chosen = form.querySelectorAll("input[type=file]");
      var main = document.getElementById("main");
      var fresh = next.getElementById("main");
      if (!main || !fresh) { document.location.reload(); return; }
      main.innerHTML = fresh.innerHTML;
      Array.prototype.forEach.call(chosen, function (old) {
        var same = document.getElementById(old.id);
        if (same && old.files && old.files.length) same.parentNode.replaceChild(old, same);
      });
      init();
      var summary = document.querySelector(".error-summary");
      if (summary) summary.focus();
    });
    xhr.addEventListener("error", function () {
      if (button) button.disabled = false;
      if (percent) percent.textContent = form.dataset.msgFailed || "";
    });
    xhr.open("POST", form.action);
    xhr.send(data);
  }

  function init() {
    var form = document.getElementById("new-case");
    if (form) {
      var inputs = form.querySelectorAll("input[data-check]");
      Array.prototype.forEach.call(inputs, function (input) {
        input.addEventListener("input", function () { check(form, input); });
        input.addEventListener("blur", function () { check(form, input); });
        if (input.value) check(form, input);
      });
      var types = form.querySelectorAll("select[name$='.id_type']");
      Array.prototype.forEach.call(types, function (select) {
        select.addEventListener("change", function () {
          var party = select.closest("[data-party]");
          var id = party && party.querySelector("input[data-check='id']");
          if (id) check(form, id);
        });
      });
      toggles(form);
      if (form.hasAttribute("data-upload")) form.addEventListener("submit", function (e) { upload(form, e); });
    }
    var print = document.querySelectorAll("[data-print]");
    Array.prototype.forEach.call(print, function (b) {
      b.hidden = false;
      b.addEventListener("click", function () { window.print(); });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
